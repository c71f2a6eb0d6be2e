"""Ingest pages: uploads and folders, the polling status widget, limits and refusals."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from backend.core.config import get_settings
from backend.demo import png_bytes
from backend.models import IngestRun, JobStatus, SourceImage
from backend.services import ingest_db
from tests.ingest.factories import encode
from tests.utils.factories import photo
from tests.views.admin.conftest import csrf_of, without_csrf


def run_id_of(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text
    match = re.match(r"/admin/ingest/runs/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match[1])


def upload(client, files, **data):  # type: ignore[no-untyped-def]
    fields = {"dataset": "DIV2K", **data}
    return client.post(
        "/admin/ingest/upload",
        data=fields,
        files=[("files", f) for f in files],
        follow_redirects=False,
    )


def test_upload_runs_in_background_and_reports_each_file(client, admin, session):
    jpeg = encode(photo("coffee"), "JPEG", quality=90)
    files = [
        ("astronaut.png", png_bytes(photo("astronaut")), "image/png"),
        ("folder/coffee.jpg", jpeg, "image/jpeg"),
        ("broken.jpg", jpeg[:2000], "image/jpeg"),
    ]
    run_id = run_id_of(upload(client, files))
    ingest_db.wait_for(run_id, timeout=120)
    page = client.get(f"/admin/ingest/runs/{run_id}")
    assert page.status_code == 200
    assert "3 of 3 files: 2 taken, 1 refused" in page.text
    assert "corrupt" in page.text and "hx-trigger" not in page.text.split('id="ingest-status"')[1]
    names = session.exec(select(SourceImage.original_name).order_by(SourceImage.id)).all()
    assert names == ["astronaut.png", "coffee.jpg"]  # folder parts a client adds are dropped
    assert not ingest_db.staging_dir(run_id).exists()
    csv_text = client.get(f"/admin/ingest/runs/{run_id}/report.csv").text
    assert csv_text.splitlines()[0].startswith("source,status,reason_code")
    assert "broken.jpg,refused,corrupt" in csv_text
    assert client.get("/admin/ingest").text.count(f"/admin/ingest/runs/{run_id}") == 1


def test_status_widget_polls_while_running_and_stops_when_done(client, admin, session):
    dataset = ingest_db.dataset_for(session, "queued", None)
    run = ingest_db.create_run(
        session,
        dataset,
        kind="folder",
        source="/nowhere",
        options=ingest_db.IngestOptions(),
        user_id=admin.id,
    )
    fragment = client.get(f"/admin/ingest/runs/{run.id}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="ingest-status"')
    assert "<html" not in fragment.text
    assert f'hx-get="/admin/ingest/runs/{run.id}"' in fragment.text
    assert 'hx-trigger="every 1s"' in fragment.text
    ingest_db.execute_run(run.id)
    done = client.get(f"/admin/ingest/runs/{run.id}", headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in done and "failed" in done and "/nowhere" in done


def test_upload_without_csrf_is_refused_and_stores_nothing(client, admin, session):
    without_csrf(client)
    response = upload(client, [("a.png", png_bytes(photo("astronaut")), "image/png")])
    assert response.status_code == 403 and "CSRF" in response.text
    assert session.exec(select(IngestRun)).all() == []


def test_csrf_token_as_a_form_field_is_enough(client, admin, session):
    token = csrf_of(client)
    without_csrf(client)
    response = upload(
        client, [("a.png", png_bytes(photo("astronaut")), "image/png")], csrf_token=token
    )
    ingest_db.wait_for(run_id_of(response), timeout=120)
    assert len(session.exec(select(SourceImage)).all()) == 1


def test_upload_over_the_limit_is_refused_unread(client, admin, session, monkeypatch):
    monkeypatch.setenv("SCLIC_MAX_UPLOAD_BYTES", "5000")
    get_settings.cache_clear()
    response = upload(client, [("a.png", png_bytes(photo("astronaut")), "image/png")])
    assert response.status_code == 413 and "more than the limit of 5000" in response.text
    assert session.exec(select(IngestRun)).all() == []
    assert session.exec(select(SourceImage)).all() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dataset": "", "folder": "/tmp"}, "dataset names"),
        ({"dataset": "ok", "folder": "relative/path"}, "absolute path"),
        ({"dataset": "ok", "folder": "/does/not/exist"}, "no folder"),
        ({"dataset": "ok", "folder": "/tmp", "scale": "abc"}, "must be a number"),
        ({"dataset": "ok", "folder": "/tmp", "scale": "2.5"}, "at most 1"),
        ({"dataset": "ok", "folder": "/tmp", "scale": "1e308"}, "at most 1"),
        ({"dataset": "x" * 150, "folder": "/tmp"}, "dataset names"),
    ],
)
def test_bad_folder_forms_explain_and_keep_what_was_typed(client, admin, session, fields, message):
    response = client.post("/admin/ingest/folder", data=fields)
    assert response.status_code == 422
    assert message in response.text
    assert f'value="{fields["folder"]}"' in response.text
    assert session.exec(select(IngestRun)).all() == []


def test_form_fields_over_their_length_are_refused(client, admin, session):
    response = client.post("/admin/ingest/folder", data={"dataset": "ok", "folder": "/" * 5000})
    assert response.status_code == 422
    assert session.exec(select(IngestRun)).all() == []


def test_upload_without_files_or_dataset(client, admin, session):
    response = client.post("/admin/ingest/upload", data={"dataset": "DIV2K"})
    assert response.status_code == 422 and "at least one image file" in response.text
    bad = upload(client, [("a.png", b"x", "image/png")], dataset="")
    assert bad.status_code == 422 and "dataset names" in bad.text
    assert session.exec(select(IngestRun)).all() == []


def test_folder_ingest_from_the_page(client, admin, session, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "chelsea.png").write_bytes(png_bytes(photo("chelsea")))
    (folder / "sub").mkdir()
    (folder / "sub" / "rocket.png").write_bytes(png_bytes(photo("rocket")))
    response = client.post(
        "/admin/ingest/folder",
        data={"dataset": "skimage", "folder": str(folder), "recursive": ""},
        follow_redirects=False,
    )
    run_id = run_id_of(response)
    ingest_db.wait_for(run_id, timeout=120)
    session.expire_all()
    run = session.get(IngestRun, run_id)
    assert run.status == JobStatus.done and (run.taken, run.total) == (1, 1)
    response = client.post(
        "/admin/ingest/folder",
        data={"dataset": "skimage", "folder": str(folder), "recursive": "on"},
        follow_redirects=False,
    )
    ingest_db.wait_for(run_id_of(response), timeout=120)
    names = session.exec(select(SourceImage.original_name).order_by(SourceImage.id)).all()
    assert names == ["chelsea.png", "sub/rocket.png"]
