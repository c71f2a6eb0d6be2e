"""Agreement-study pages: roles, CSRF, creating studies, kept runs, the result table, pictures."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from backend.agreement import compute_agreement
from backend.models import AgreementRun, AgreementStudy, Assignment, Batch, Role
from backend.services import agreement_picture as pictures
from tests.services.test_agreement_study import LABELERS, build_study
from tests.utils.factories import login, make_batch, make_user


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _row(html: str, n: int) -> str:
    match = re.search(rf'<tr data-n="{n}">(.*?)</tr>', html, re.S)
    assert match, f"no row for n={n}"
    return match.group(1)


# --- roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/agreement", "/admin/agreement/1", "/admin/agreement/1/pictures"]
)
def test_anonymous_is_sent_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("role", [Role.labeler, Role.researcher])
def test_non_admins_are_refused(client: TestClient, session: Session, role: Role) -> None:
    built = build_study(session)
    make_user(session, "someone", role)
    token = login(client, "someone")
    sid = built.study.id
    for path in (
        "/admin/agreement",
        f"/admin/agreement/{sid}",
        f"/admin/agreement/{sid}/pictures",
    ):
        assert client.get(path).status_code == 403
    posted = client.post(
        f"/admin/agreement/{sid}/runs",
        data={"csrf_token": token, "grids": "1", "bootstrap": "0"},
        follow_redirects=False,
    )
    assert posted.status_code == 403
    assert _count(session, AgreementRun) == 0


def test_labeler_cannot_create_a_study(client: TestClient, session: Session) -> None:
    ann, ben = make_user(session, "ann"), make_user(session, "ben")
    one = make_batch(session, None, 1)
    token = login(client, "ann")
    response = client.post(
        "/admin/agreement",
        data={
            "csrf_token": token,
            "name": "Mine",
            "batch_ids": [str(one.batch.id)],
            "labeler_ids": [str(ann.id), str(ben.id)],
        },
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert _count(session, AgreementStudy) == 0
    assert _count(session, Assignment) == 0


# --- creating ----------------------------------------------------------------------------------


def test_admin_creates_a_study_through_the_form(client: TestClient, session: Session) -> None:
    make_user(session, "boss", Role.admin)
    ann, ben, cat = (make_user(session, n) for n in LABELERS)
    one = make_batch(session, None, 2, name="Batch A")
    two = make_batch(session, None, 1, name="Batch B", seed0=5)
    token = login(client, "boss")

    page = client.get("/admin/agreement")
    assert page.status_code == 200
    assert "Batch A" in page.text and "Batch B" in page.text
    assert all(name in page.text for name in LABELERS)

    response = client.post(
        "/admin/agreement",
        data={
            "csrf_token": token,
            "name": "Two batches",
            "batch_ids": [str(one.batch.id), str(two.batch.id)],
            "labeler_ids": [str(ann.id), str(ben.id), str(cat.id)],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    study = session.exec(select(AgreementStudy)).one()
    assert response.headers["location"] == f"/admin/agreement/{study.id}"
    assert _count(session, Assignment) == 6
    session.expire_all()
    for batch in session.exec(select(Batch)):
        assert batch.annotate_all_instances

    detail = client.get(f"/admin/agreement/{study.id}")
    assert detail.status_code == 200
    assert 'id="study-status"' in detail.text
    assert "0 / 2" in detail.text and "0 / 1" in detail.text
    assert 'hx-trigger="every 30s"' in detail.text  # polls until the copies are done
    listing = client.get("/admin/agreement")
    assert "Two batches" in listing.text


def test_missing_csrf_token_is_refused(client: TestClient, session: Session) -> None:
    make_user(session, "boss", Role.admin)
    ann, ben = make_user(session, "ann"), make_user(session, "ben")
    one = make_batch(session, None, 1)
    login(client, "boss")
    del client.headers["X-CSRF-Token"]  # a plain form post carries only its field
    response = client.post(
        "/admin/agreement",
        data={
            "csrf_token": "wrong",
            "name": "S",
            "batch_ids": [str(one.batch.id)],
            "labeler_ids": [str(ann.id), str(ben.id)],
        },
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert _count(session, AgreementStudy) == 0


@pytest.mark.parametrize(
    ("labelers", "batches", "message"),
    [
        (["ann"], ["batch"], "at least 2 labelers"),
        (["ann", "ben"], [], "at least one batch"),
        (["ann", "ben"], ["abc"], "batch id &#39;abc&#39; is not a number"),
        (["ann", "ben"], ["4242"], "unknown batch ids: 4242"),
        (["ann", "boss"], ["batch"], "not labelers: boss"),
    ],
)
def test_bad_form_shows_the_error_and_writes_nothing(
    client: TestClient, session: Session, labelers: list[str], batches: list[str], message: str
) -> None:
    boss = make_user(session, "boss", Role.admin)
    users = {"boss": boss, "ann": make_user(session, "ann"), "ben": make_user(session, "ben")}
    one = make_batch(session, None, 1, name="Only batch")
    token = login(client, "boss")
    response = client.post(
        "/admin/agreement",
        data={
            "csrf_token": token,
            "name": "S",
            "batch_ids": [str(one.batch.id) if b == "batch" else b for b in batches],
            "labeler_ids": [str(users[n].id) for n in labelers],
        },
    )
    assert response.status_code == 422
    assert 'id="study-error"' in response.text
    assert message in response.text
    assert _count(session, AgreementStudy) == 0
    assert _count(session, Assignment) == 0
    session.refresh(one.batch)
    assert not one.batch.annotate_all_instances


# --- runs --------------------------------------------------------------------------------------


def _run(client: TestClient, token: str, study_id: int | None, **fields: object):  # type: ignore[no-untyped-def]
    data = {"csrf_token": token, "rule": "paper", "bootstrap": "100", "seed": "0", **fields}
    return client.post(f"/admin/agreement/{study_id}/runs", data=data, follow_redirects=False)


def test_runs_are_kept_and_shown_like_the_paper(client: TestClient, session: Session) -> None:
    built = build_study(session)
    token = login(client, "boss")
    sid = built.study.id

    first = _run(client, token, sid, grids=["1", "2", "4"], seed="3")
    assert first.status_code == 303
    run_one = session.exec(select(AgreementRun)).one()
    assert first.headers["location"] == f"/admin/agreement/{sid}/runs/{run_one.id}"
    saved = (dict(run_one.params), list(run_one.result))

    second = _run(client, token, sid, grids=["2", "8, 16"], rule="largest-share", seed="4")
    assert second.status_code == 303
    assert _count(session, AgreementRun) == 2
    session.expire_all()
    again = session.get(AgreementRun, run_one.id)
    assert again is not None and (again.params, again.result) == saved
    run_two = session.exec(select(AgreementRun).where(AgreementRun.id != run_one.id)).one()
    assert run_two.params["grids"] == [2, 8, 16]
    assert run_two.params["rule"] == "largest-share"

    study_page = client.get(f"/admin/agreement/{sid}")
    assert f'data-run-id="{run_one.id}"' in study_page.text
    assert f'data-run-id="{run_two.id}"' in study_page.text

    page = client.get(first.headers["location"])
    assert page.status_code == 200
    expected = compute_agreement(
        built.specs(),
        built.boxes,
        LABELERS,
        grids=(1, 2, 4),
        bootstrap=100,
        seed=3,
        missing=built.missing,
    )
    for result in expected:
        row = _row(page.text, result.n)
        for column in ("c_neg", "c_pos", "p_pos", "p_neg", "c_total"):
            interval = getattr(result, column)
            cell = re.search(rf'data-col="{column}">(.*?)</td>', row, re.S)
            assert cell is not None
            assert f"{interval.value:.2f}" in cell.group(1)
            assert f"({interval.low:.2f} – {interval.high:.2f})" in cell.group(1)
        alpha = re.search(r'data-col="alpha">(.*?)</td>', row, re.S)
        assert alpha is not None and f"{result.alpha.value:.3f}" in alpha.group(1)
        assert f'<td class="num">{result.units}</td>' in row
    assert "cat" in page.text  # the labelers of the run are listed


def test_bad_run_form_shows_the_error(client: TestClient, session: Session) -> None:
    built = build_study(session)
    token = login(client, "boss")
    for fields, message in (
        ({"grids": ["1"], "bootstrap": "lots"}, "bootstrap resamples &#39;lots&#39;"),
        ({"grids": ["1"], "bootstrap": "10001"}, "between 0 and 10,000"),
        ({"grids": ["64"]}, "between 1 and 32"),
        ({}, "at least one grid size"),
        ({"grids": ["1"], "rule": "mean"}, "unknown unit rule"),
    ):
        response = _run(client, token, built.study.id, **fields)
        assert response.status_code == 422, fields
        assert 'id="run-error"' in response.text
        assert message in response.text
    assert _count(session, AgreementRun) == 0


def test_unknown_study_and_run_are_404(client: TestClient, session: Session) -> None:
    built = build_study(session)
    login(client, "boss")
    assert client.get("/admin/agreement/999").status_code == 404
    assert client.get(f"/admin/agreement/{built.study.id}/runs/999").status_code == 404
    assert client.get(f"/admin/agreement/{built.study.id}/pictures?i=99").status_code == 404


def test_status_fragment_for_htmx(client: TestClient, session: Session) -> None:
    built = build_study(session)
    login(client, "boss")
    response = client.get(f"/admin/agreement/{built.study.id}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="study-status"' in response.text
    assert "3 / 4" in response.text  # images finished by every labeler


# --- pictures ----------------------------------------------------------------------------------


def test_picture_shows_each_labelers_boxes_and_unit_shading(
    client: TestClient, session: Session
) -> None:
    built = build_study(session)
    login(client, "boss")
    response = client.get(f"/admin/agreement/{built.study.id}/pictures?i=3&n=2&rule=paper")
    assert response.status_code == 200
    html = response.text
    im3 = built.images[3]
    assert f'viewBox="0 0 {im3.width} {im3.height}"' in html
    assert f"/iiif/3/{im3.blind_name}/full/" in html
    picture = pictures.study_picture(session, built.study, 3, 2, "paper")
    colours = {lab.name: lab.colour for lab in picture.labelers}
    drawn = re.findall(
        r'<rect class="ag-box" data-labeler="(\w+)".*?x="(\d+)" y="(\d+)" width="(\d+)" '
        r'height="(\d+)".*?stroke="(#\w+)"',
        html,
        re.S,
    )
    expected = [
        (b.labeler, str(int(b.x)), str(int(b.y)), str(int(b.w)), str(int(b.h)), colours[b.labeler])
        for b in built.boxes
        if b.image == im3.blind_name
    ]
    assert sorted(drawn) == sorted(expected)
    categories = re.findall(r'data-unit="(\d+)" data-category="(\w+)"', html)
    assert categories == [("0", "c_neg"), ("1", "c_neg"), ("2", "c_pos"), ("3", "p_neg")]
    fills = {s.key: s.colour for s in pictures.CATEGORY_STYLES}
    assert f'fill="{fills["c_pos"]}"' in html and f'fill="{fills["p_neg"]}"' in html
    assert 'clip-path="url(#ag-clip-c-neg)"' in html  # complete negatives in greyscale
    for key in ("c_neg", "c_pos", "p_pos", "p_neg"):
        assert f'<li data-category="{key}">' in html  # the legend
    for name in LABELERS:
        assert f'<li data-labeler="{name}" data-present="true">' in html


def test_picture_marks_unfinished_labeler_missing(client: TestClient, session: Session) -> None:
    built = build_study(session)
    login(client, "boss")
    response = client.get(
        f"/admin/agreement/{built.study.id}/pictures?i=0&n=1",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="picture-view"' in response.text
    assert '<li data-labeler="cat" data-present="false">' in response.text
    assert 'data-labeler="cat" data-unit' not in response.text  # her unfinished box is hidden
    assert 'rel="next"' in response.text


def test_picture_with_bad_grid_is_refused(client: TestClient, session: Session) -> None:
    built = build_study(session)
    login(client, "boss")
    response = client.get(f"/admin/agreement/{built.study.id}/pictures?n=0")
    assert response.status_code == 422
    assert "grid size" in response.text
