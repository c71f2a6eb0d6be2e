"""Study plan pages: defaults, preview without writing, versions, compression, the cut."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from backend.models import Batch, Bulk, CompressionJob, Plan
from backend.services import plans
from tests.services.helpers import fake_reconstructions, fake_sources
from tests.views.admin.conftest import PAPER_PLAN_FORM, squash, without_csrf


@pytest.fixture()
def sent(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(plans.compression, "start_jobs", lambda job_ids: ids.extend(job_ids))
    return ids


def checked(page: str, half: str) -> list[str]:
    return re.findall(rf'name="codecs_{half}" value="(\d\d)"\s+checked', page)


def test_form_starts_from_the_paper_defaults(client, admin, codec_worker):
    page = client.get("/admin/plans").text
    assert checked(page, "A") == ["01", "03", "05", "06"]
    assert checked(page, "B") == ["02", "03", "04", "06"]
    assert 'name="bulk_size" inputmode="numeric" value="200"' in page
    assert "No version saved yet." in page


def test_preview_counts_and_writes_nothing(client, admin, session):
    fake_sources(session, 40)
    fragment = client.post(
        "/admin/plans/preview", data=PAPER_PLAN_FORM, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "40 images → 320 reconstructions → 2 bulks" in squash(fragment.text)
    full = client.post("/admin/plans/preview", data=PAPER_PLAN_FORM)
    assert "<html" in full.text and 'id="plan-preview-body"' in full.text
    assert session.exec(select(Plan)).all() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": "abc"}, "The seed must be a whole number"),
        ({"seed": ""}, "The seed is missing"),
        ({"seed": "99999999999999999999"}, "The seed must be between"),
        ({"bulk_size": "0"}, "The bulk size must be between 1"),
        ({"batch_size": "2.5"}, "whole number"),
        ({"codecs_A": ["77"]}, "unknown codec ids 77"),
        ({"codecs_B": []}, "half B needs at least one codec"),
        ({"settings": ["medium"]}, "choose low, high or both"),
    ],
)
def test_bad_plans_are_explained_and_nothing_saved(client, admin, session, change, message):
    fake_sources(session, 4)
    data = {**PAPER_PLAN_FORM, **change}
    response = client.post("/admin/plans", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert session.exec(select(Plan)).all() == []
    preview = client.post("/admin/plans/preview", data=data, headers={"HX-Request": "true"})
    assert preview.status_code == 422 and message in preview.text


def test_save_versions_compress_and_cut(client, admin, session, sent, codec_worker):
    fake_sources(session, 24)
    response = client.post("/admin/plans", data=PAPER_PLAN_FORM, follow_redirects=False)
    assert response.status_code == 303
    first_url = response.headers["location"].split("?")[0]
    same = client.post("/admin/plans", data=PAPER_PLAN_FORM, follow_redirects=False)
    assert "Nothing+changed" in same.headers["location"]
    client.post("/admin/plans", data={**PAPER_PLAN_FORM, "seed": "5"})
    assert [p.version for p in plans.versions(session)] == [2, 1]
    page = squash(client.get(first_url).text)
    assert "A newer version exists" in page and "0 of 192 planned reconstructions" in page

    plan = plans.latest(session)
    compress = client.post(f"/admin/plans/{plan.id}/compress", follow_redirects=False)
    assert compress.headers["location"].startswith("/admin/compression?msg=")
    assert len(sent) == 192 == len(session.exec(select(CompressionJob)).all())

    nothing = squash(client.get(f"/admin/plans/{plan.id}/cut").text)
    assert "0 of 24 images are ready" in nothing and 'id="cut-nothing"' in nothing
    params = plans.PlanParams.from_row(plan)
    fake_reconstructions(
        session,
        [
            (i, c, s)
            for i, h in plans.halves_of(plan).items()
            for c in params.codec_sets[h]
            for s in params.settings
        ],
    )
    preview = squash(client.get(f"/admin/plans/{plan.id}/cut", headers={"HX-Request": "true"}).text)
    assert "24 of 24 images are ready" in preview and "Write 2 bulks and 16 batches" in preview
    assert session.exec(select(Bulk)).all() == []
    cut = client.post(f"/admin/plans/{plan.id}/cut", follow_redirects=False)
    assert cut.headers["location"].startswith("/admin/assignments?msg=Cut+24+images")
    assert len(session.exec(select(Batch)).all()) == 16
    again = client.post(f"/admin/plans/{plan.id}/cut", follow_redirects=False)
    assert "Nothing+to+cut" in again.headers["location"]
    assert len(session.exec(select(Batch)).all()) == 16


def test_unknown_versions_and_missing_csrf(client, admin, session):
    assert client.get("/admin/plans/424242").status_code == 404
    assert client.post("/admin/plans/424242/cut").status_code == 404
    fake_sources(session, 4)
    without_csrf(client)
    assert client.post("/admin/plans", data=PAPER_PLAN_FORM).status_code == 403
    assert session.exec(select(Plan)).all() == []
