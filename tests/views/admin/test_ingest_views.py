"""Ingest pages: uploads and folders, the polling status widget, an interrupted run's resume,
limits and refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from backend.core.config import get_settings
from backend.demo import png_bytes
from backend.models import IngestFile, IngestRun, JobStatus, SourceImage
from backend.services import ingest_db, ingest_runs
from backend.services.tasks import drain_local_tasks
from tests.ingest.factories import encode
from tests.utils.factories import photo
from tests.views.admin.conftest import csrf_of, without_csrf


@pytest.fixture(autouse=True)
def tasks_here(monkeypatch):  # type: ignore[no-untyped-def]
    """The ingest task runs in this process, as embedded, whatever REDIS_URL says (the Celery
    path of the same task is tested with real workers in tests/workers/test_tasks.py)."""
    from workers.embedded import install_runner

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    install_runner()
    yield
    drain_local_tasks()


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
    drain_local_tasks()
    page = client.get(f"/admin/ingest/runs/{run_id}")
    assert page.status_code == 200
    assert "3 of 3 files: 2 taken, 1 refused" in page.text
    assert "corrupt" in page.text and "hx-trigger" not in page.text.split('id="ingest-status"')[1]
    names = session.exec(select(SourceImage.original_name).order_by(SourceImage.id)).all()
    assert names == ["astronaut.png", "coffee.jpg"]  # folder parts a client adds are dropped
    assert not ingest_runs.staging_dir(run_id).exists()
    csv_text = client.get(f"/admin/ingest/runs/{run_id}/report.csv").text
    assert csv_text.splitlines()[0].startswith("source,status,reason_code")
    assert "broken.jpg,refused,corrupt" in csv_text
    assert client.get("/admin/ingest").text.count(f"/admin/ingest/runs/{run_id}") == 1


def test_status_widget_polls_while_running_and_stops_when_done(client, admin, session):
    dataset = ingest_db.dataset_for(session, "queued", None)
    run = ingest_runs.create_run(
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
    ingest_runs.execute_run(run.id)
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
    run_id_of(response)
    drain_local_tasks()
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
    drain_local_tasks()
    session.expire_all()
    run = session.get(IngestRun, run_id)
    assert run.status == JobStatus.done and (run.taken, run.total) == (1, 1)
    response = client.post(
        "/admin/ingest/folder",
        data={"dataset": "skimage", "folder": str(folder), "recursive": "on"},
        follow_redirects=False,
    )
    run_id_of(response)
    drain_local_tasks()
    names = session.exec(select(SourceImage.original_name).order_by(SourceImage.id)).all()
    assert names == ["chelsea.png", "sub/rocket.png"]


def test_an_interrupted_run_shows_so_and_resumes_from_its_page(client, admin, session, tmp_path):
    """A run left "running" by a worker that stopped (its heartbeat stale) after its first file:
    the page says it was interrupted and stops polling; its button resumes it, and the run
    ends with each file once."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea", "rocket", "coffee"):
        (folder / f"{name}.png").write_bytes(png_bytes(photo(name)))
    dataset = ingest_db.dataset_for(session, "resumed", None)
    run = ingest_runs.create_run(
        session,
        dataset,
        kind="folder",
        source=str(folder),
        options=ingest_db.IngestOptions(),
        user_id=admin.id,
    )
    # Its worker took the first file, then stopped: simulated with a run that ends its work
    # after one file and a heartbeat moved back past the stale limit.
    real = ingest_runs.ingest_one
    taken: list[str] = []

    def stop_after_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        if taken:
            raise KeyboardInterrupt  # what a worker's sudden end looks like from inside
        taken.append(args[2])
        return real(*args, **kwargs)

    ingest_runs.ingest_one = stop_after_one  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            ingest_runs.execute_run(run.id)
    finally:
        ingest_runs.ingest_one = real  # type: ignore[assignment]
    page = client.get(f"/admin/ingest/runs/{run.id}", headers={"HX-Request": "true"}).text
    assert 'hx-trigger="every 1s"' in page and "Resume" not in page  # live: still polling
    stale = timedelta(seconds=get_settings().task_stale_after_s + 1)
    session.expire_all()
    left = session.get(IngestRun, run.id)
    session.execute(
        update(IngestRun)
        .where(col(IngestRun.id) == run.id)
        .values(heartbeat_at=left.heartbeat_at - stale, updated_at=left.updated_at - stale)
    )
    session.commit()
    page = client.get(f"/admin/ingest/runs/{run.id}", headers={"HX-Request": "true"}).text
    assert 'id="ingest-interrupted"' in page and "hx-trigger" not in page
    assert f'action="/admin/ingest/runs/{run.id}/resume"' in page
    assert "1 of 3 files: 1 taken, 0 refused" in page
    listing = client.get("/admin/ingest", headers={"HX-Request": "true"}).text
    assert ">interrupted</span>" in listing

    response = client.post(f"/admin/ingest/runs/{run.id}/resume", follow_redirects=False)
    assert response.status_code == 303 and "Ingest+resumed" in response.headers["location"]
    drain_local_tasks()
    done = client.get(f"/admin/ingest/runs/{run.id}").text
    assert "3 of 3 files: 3 taken, 0 refused" in done and 'id="ingest-interrupted"' not in done
    names = session.exec(select(SourceImage.original_name).order_by(SourceImage.id)).all()
    assert sorted(names) == ["chelsea.png", "coffee.png", "rocket.png"]
    assert len(session.exec(select(IngestFile).where(IngestFile.run_id == run.id)).all()) == 3
    # A finished run is not resumed again; without the CSRF token nothing is done.
    again = client.post(f"/admin/ingest/runs/{run.id}/resume", follow_redirects=False)
    assert "was+not+interrupted" in again.headers["location"]
    without_csrf(client)
    assert client.post(f"/admin/ingest/runs/{run.id}/resume").status_code == 403
