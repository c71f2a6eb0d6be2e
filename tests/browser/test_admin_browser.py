"""The admin in real headless Chromium: prescreening by keys, then an even split and a reassign."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.models import Assignment, Batch, PrescreenVote, Role, SourceImage, SourceStatus
from tests.browser.conftest import login
from tests.services.helpers import fake_study
from tests.utils.factories import PASSWORD, make_source, make_user, photo

pytestmark = pytest.mark.browser


def real_sources(session, names: tuple[str, ...]) -> list[int]:  # type: ignore[no-untyped-def]
    return [make_source(session, photo(name), name, "skimage").id for name in names]


def card_source(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.get_attribute("#prescreen-card", "data-source-id"))


def test_admin_prescreens_by_keys_and_assigns(live_server, browser_page, session):
    page = browser_page
    make_user(session, "boss", Role.admin)
    ids = real_sources(session, ("astronaut", "coffee", "chelsea"))

    login(page, live_server, "boss", PASSWORD)
    page.goto(live_server + "/admin/prescreen")
    page.wait_for_function(
        "() => { const i = document.getElementById('prescreen-image');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert card_source(page) == ids[0]
    assert "vehicles" in page.text_content("#prescreen-criteria")
    for key, expected_next in (("1", ids[1]), ("e", ids[2])):
        page.keyboard.press(key)
        page.wait_for_function(
            f"() => document.querySelector('#prescreen-card')"
            f" && document.querySelector('#prescreen-card').dataset.sourceId === '{expected_next}'"
        )
    page.keyboard.press("2")
    page.wait_for_selector("#prescreen-done")
    session.expire_all()
    votes = session.exec(select(PrescreenVote).order_by(PrescreenVote.source_image_id)).all()
    assert [(v.source_image_id, v.rating.value) for v in votes] == [
        (ids[0], "include"),
        (ids[1], "exclude"),
        (ids[2], "borderline"),
    ]
    page.click("text=Back to the image rated last")
    page.wait_for_selector("#prescreen-mine")
    page.keyboard.press("i")  # change the rating of the last image
    page.wait_for_selector("#prescreen-done")
    session.expire_all()
    assert (
        session.exec(select(PrescreenVote.rating).where(PrescreenVote.source_image_id == ids[2]))
        .one()
        .value
        == "include"
    )
    assert session.get(SourceImage, ids[0]).status.value == "prepared"

    for source in session.exec(select(SourceImage)).all():
        source.status = SourceStatus.excluded  # keep the photographs out of the fake study
        session.add(source)
    session.commit()
    fake_study(session, n_sources=20, batch_size=8)
    ana, ben = make_user(session, "ana"), make_user(session, "ben")
    page.goto(live_server + "/admin/assignments")
    page.click("#split-form button[type=submit]")
    page.wait_for_selector("#flash")
    assert "ana: 80, ben: 80" in page.text_content("#flash")
    assert page.locator("#batch-table tr[data-status='assigned']").count() == 20
    first = session.exec(select(Batch).order_by(Batch.id)).first()
    row = page.locator(f"#batch-{first.id}")
    current = row.locator("td.labeler").text_content().strip()
    other = "ben" if current == "ana" else "ana"
    row.locator("select[name=labeler_id]").select_option(label=other)
    row.locator("button", has_text="Reassign").click()
    page.wait_for_selector("#flash")
    assert f"moved to {other}" in page.text_content("#flash")
    assert page.locator(f"#batch-{first.id} td.labeler").text_content().strip() == other
    session.expire_all()
    holder = session.exec(select(Assignment).where(Assignment.batch_id == first.id)).one()
    assert holder.labeler_id == (ben.id if other == "ben" else ana.id)
