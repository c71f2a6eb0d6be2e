"""/api/v1/agreement: roles, study status, kept runs, and the same numbers as the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from backend.agreement.cli import agreement_app
from backend.models import AgreementRun, AgreementStudy, Assignment, Role
from backend.services import agreement_runs as runs
from backend.services import agreement_study as studies
from backend.services.auth import create_api_token
from tests.services.test_agreement_study import LABELERS, BuiltStudy, build_study
from tests.utils.factories import login, make_batch, make_user

BASE = "/api/v1/agreement/studies"


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _with_run(session: Session, unfinished: bool = True) -> tuple[BuiltStudy, AgreementRun]:
    built = build_study(session, unfinished=unfinished)
    run = runs.run_analysis(
        session, built.study, runs.run_params([1, 2, 4], bootstrap=100, seed=5), built.admin
    )
    return built, run


# --- roles -------------------------------------------------------------------------------------


def test_anonymous_gets_401(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    sid = built.study.id
    for path in (BASE, f"{BASE}/{sid}", f"{BASE}/{sid}/runs/{run.id}"):
        assert client.get(path).status_code == 401
    assert client.post(BASE, json={}).status_code == 401


def test_labeler_gets_403(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    login(client, "ann")
    sid = built.study.id
    for path in (BASE, f"{BASE}/{sid}", f"{BASE}/{sid}/runs/{run.id}"):
        assert client.get(path).status_code == 403
    assert client.post(f"{BASE}/{sid}/runs", json={"bootstrap": 0}).status_code == 403


def test_researcher_reads_but_cannot_write(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    make_user(session, "rita", Role.researcher)
    login(client, "rita")
    listing = client.get(BASE)
    assert listing.status_code == 200
    assert listing.json()["count"] == 1
    assert listing.json()["data"][0]["name"] == "Lab study"
    assert client.get(f"{BASE}/{built.study.id}").status_code == 200
    assert client.get(f"{BASE}/{built.study.id}/runs/{run.id}").status_code == 200
    refused = client.post(f"{BASE}/{built.study.id}/runs", json={"bootstrap": 0})
    assert refused.status_code == 403
    assert _count(session, AgreementRun) == 1


def test_researcher_token_reads_the_api(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    rita = make_user(session, "rita", Role.researcher)
    token = create_api_token(session, rita, "analysis")
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(f"{BASE}/{built.study.id}/runs/{run.id}", headers=headers)
    assert response.status_code == 200


# --- reading ---------------------------------------------------------------------------------


def test_study_detail_has_status_and_runs(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    login(client, "boss")
    body = client.get(f"{BASE}/{built.study.id}").json()
    assert body["batch_ids"] == [b.id for b in built.batches]
    assert body["labeler_ids"] == [built.labelers[n].id for n in LABELERS]
    assert (body["n_images"], body["n_images_complete"], body["complete"]) == (4, 3, False)
    copies = {(c["labeler"], c["batch"]): (c["n_done"], c["n_items"]) for c in body["copies"]}
    assert copies[("cat", "Agreement A")] == (1, 2)
    assert copies[("ann", "Agreement B")] == (2, 2)
    assert [r["id"] for r in body["runs"]] == [run.id]
    assert body["runs"][0]["params"]["grids"] == [1, 2, 4]


def test_run_returns_the_stored_numbers(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    login(client, "boss")
    body = client.get(f"{BASE}/{built.study.id}/runs/{run.id}").json()
    assert body["result"] == run.result
    assert body["params"] == run.params
    assert body["study_id"] == built.study.id
    assert [r["n"] for r in body["result"]] == [1, 2, 4]
    assert set(body["result"][0]) >= {"c_neg", "c_pos", "p_pos", "p_neg", "c_total", "alpha"}


def test_unknown_ids_are_404(client: TestClient, session: Session) -> None:
    built, run = _with_run(session)
    other = studies.create_study(
        session,
        name="Other",
        batch_ids=[built.batches[0].id],
        labeler_ids=[built.labelers["ann"].id, built.labelers["ben"].id],
        created_by=None,
    )
    login(client, "boss")
    assert client.get(f"{BASE}/999").status_code == 404
    assert client.get(f"{BASE}/{built.study.id}/runs/999").status_code == 404
    # A run is only found under its own study.
    assert client.get(f"{BASE}/{other.id}/runs/{run.id}").status_code == 404


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_api_numbers_equal_the_cli(client: TestClient, session: Session, tmp_path: Path) -> None:
    built, run = _with_run(session, unfinished=False)
    images = _write_csv(
        tmp_path / "IMAGES.csv",
        ["image", "width", "height"],
        [[s.image, s.width, s.height] for s in built.specs()],
    )
    boxes = _write_csv(
        tmp_path / "BOXES.csv",
        ["image", "labeler", "x", "y", "w", "h"],
        [[b.image, b.labeler, int(b.x), int(b.y), int(b.w), int(b.h)] for b in built.boxes],
    )
    args = ["compute", "--boxes", boxes, "--images", images, "--grid", "1,2,4"]
    args += ["--labelers", ",".join(LABELERS), "--bootstrap", "100", "--seed", "5"]
    cli = CliRunner().invoke(agreement_app, args)
    assert cli.exit_code == 0, cli.output
    login(client, "boss")
    body = client.get(f"{BASE}/{built.study.id}/runs/{run.id}").json()
    assert body["result"] == json.loads(cli.stdout)


# --- writing -----------------------------------------------------------------------------------


def test_admin_creates_a_study_and_runs(client: TestClient, session: Session) -> None:
    make_user(session, "boss", Role.admin)
    ann, ben = make_user(session, "ann"), make_user(session, "ben")
    one = make_batch(session, None, 1)
    login(client, "boss")
    study = {"name": "API study", "batch_ids": [one.batch.id], "labeler_ids": [ann.id, ben.id]}
    created = client.post(BASE, json=study)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "API study" and body["n_images"] == 1 and body["runs"] == []
    assert _count(session, Assignment) == 2
    # Nobody finished anything yet: the run is refused with a reason, and nothing is stored.
    refused = client.post(f"{BASE}/{body['id']}/runs", json={"grids": [1], "bootstrap": 0})
    assert refused.status_code == 422
    assert "cannot measure agreement yet" in refused.json()["detail"]
    assert _count(session, AgreementRun) == 0


def test_admin_run_through_the_api_is_kept(client: TestClient, session: Session) -> None:
    built, first = _with_run(session)
    login(client, "boss")
    response = client.post(
        f"{BASE}/{built.study.id}/runs",
        json={"grids": [2], "rule": "largest-share", "bootstrap": 10, "seed": 1},
    )
    assert response.status_code == 201, response.text
    assert response.json()["params"]["rule"] == "largest-share"
    assert _count(session, AgreementRun) == 2
    again = client.get(f"{BASE}/{built.study.id}/runs/{first.id}").json()
    assert again["result"] == first.result


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"name": "S", "batch_ids": ["1"], "labeler_ids": [1, 2]}, 422, None),
        ({"name": "S", "batch_ids": [1], "labeler_ids": [1], "extra": 1}, 422, None),
        ({"name": "S", "batch_ids": [], "labeler_ids": ["ann", "ben"]}, 422, "at least one batch"),
        ({"name": "S", "batch_ids": ["batch"], "labeler_ids": ["ann"]}, 422, "at least 2"),
        ({"name": "S", "batch_ids": [4242], "labeler_ids": ["ann", "ben"]}, 422, "unknown batch"),
    ],
)
def test_bad_study_is_refused(
    client: TestClient, session: Session, body: dict[str, object], code: int, detail: str | None
) -> None:
    make_user(session, "boss", Role.admin)
    users = {"ann": make_user(session, "ann"), "ben": make_user(session, "ben")}
    one = make_batch(session, None, 1)
    login(client, "boss")

    def resolve(value: object) -> object:
        if value == "batch":
            return one.batch.id
        return users[value].id if value in users else value  # type: ignore[index]

    body = {
        key: [resolve(v) for v in value] if key.endswith("_ids") else value  # type: ignore[attr-defined]
        for key, value in body.items()
    }
    response = client.post(BASE, json=body)
    assert response.status_code == code
    if detail:
        assert detail in response.json()["detail"]
    assert _count(session, AgreementStudy) == 0
    assert _count(session, Assignment) == 0


def test_bad_run_parameters_are_refused(client: TestClient, session: Session) -> None:
    built = build_study(session)
    login(client, "boss")
    for body, detail in (
        ({"bootstrap": 20_000}, "between 0 and 10,000"),
        ({"grids": [0]}, "between 1 and 32"),
        ({"grids": []}, "at least one grid size"),
        ({"rule": "mean"}, None),
        ({"seed": "1"}, None),
    ):
        response = client.post(f"{BASE}/{built.study.id}/runs", json=body)
        assert response.status_code == 422, body
        if detail:
            assert detail in response.json()["detail"]
    assert _count(session, AgreementRun) == 0
