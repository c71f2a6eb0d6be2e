"""Ingest runs as background tasks: counts and report per file, and a run whose worker was
killed resumes without storing or reporting any file twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from backend.core.config import get_settings
from backend.models import IngestFile, IngestRun, JobStatus, SourceImage
from backend.services import ingest_db, ingest_runs
from tests.services.test_ingest_db import stored_files, write_corpus

REPO = Path(__file__).resolve().parents[2]
# What the corpus of tests.services.test_ingest_db gives, run whole and uninterrupted.
CORPUS_COUNTS = (11, 11, 3, 8)


@pytest.fixture()
def tasks_here(monkeypatch):  # type: ignore[no-untyped-def]
    """Background tasks run in this process, as embedded, whatever REDIS_URL says."""
    from backend.services.tasks import drain_local_tasks
    from workers.embedded import install_runner

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    install_runner()
    yield
    drain_local_tasks()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    write_corpus(folder)
    return folder


def folder_run(session, folder: Path, name: str = "runs") -> IngestRun:  # type: ignore[no-untyped-def]
    dataset = ingest_db.dataset_for(session, name, None)
    return ingest_runs.create_run(
        session,
        dataset,
        kind="folder",
        source=str(folder),
        options=ingest_db.IngestOptions(),
        user_id=None,
    )


def counts(run: IngestRun) -> tuple[int, int, int, int]:
    return (run.total, run.processed, run.taken, run.refused)


def test_background_run_keeps_counts_and_report(session, corpus, tasks_here):
    from backend.services.tasks import drain_local_tasks

    run = folder_run(session, corpus)
    ingest_runs.start_run(run.id)
    drain_local_tasks()
    session.expire_all()
    done = session.get(IngestRun, run.id)
    assert done.status == JobStatus.done and done.finished_at is not None
    assert counts(done) == CORPUS_COUNTS
    report = ingest_runs.report_of(session, run.id)
    assert report.counts()["refused_by_reason"]["duplicate"] == 1
    assert "astronaut.png" in report.to_csv()
    assert ingest_runs.execute_run(run.id) == "done already"


def test_run_of_a_vanished_folder_fails_with_its_reason(session, tmp_path):
    run = folder_run(session, tmp_path / "nowhere", "gone")
    assert ingest_runs.execute_run(run.id) == "failed"
    session.expire_all()
    failed = session.get(IngestRun, run.id)
    assert failed.status == JobStatus.failed and "nowhere" in failed.error
    assert not ingest_runs.is_interrupted(failed)
    assert ingest_runs.execute_run(999_999) == "gone"


# A worker that runs the ingest and stops dead (SIGKILL from the test) at the Nth call of a
# function: while reading a file, or between writing a taken file's original and its prepared
# PNG into the store.
KILLED_WORKER = textwrap.dedent(
    """
    import sys
    from backend.services import images, ingest_db, ingest_runs

    module = {"ingest_db": ingest_db, "images": images}[sys.argv[1]]
    name, stop_at, run_id = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    real, calls = getattr(module, name), 0

    def stopping(*args, **kwargs):
        global calls
        calls += 1
        if calls == stop_at:
            print("stopped", flush=True)
            sys.stdin.readline()
        return real(*args, **kwargs)

    setattr(module, name, stopping)
    ingest_runs.execute_run(run_id)
    """
)


@pytest.mark.parametrize(
    ("module", "function", "stop_at"),
    [("ingest_db", "read_source", 6), ("images", "write_atomic", 4)],
    ids=["killed-reading-a-file", "killed-storing-a-file"],
)
def test_a_killed_run_resumes_and_takes_every_file_once(
    session, corpus, tasks_here, module, function, stop_at
):
    from backend.services.tasks import drain_local_tasks

    run = folder_run(session, corpus)
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, module, function, str(stop_at), str(run.id)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "stopped"
    finally:
        worker.kill()
        worker.wait(timeout=30)
    session.expire_all()
    left = session.get(IngestRun, run.id)
    assert left.status == JobStatus.running and 0 < left.processed < left.total
    done_before = left.processed
    # While its heartbeat is fresh the run is another worker's: a second delivery leaves it and
    # the page offers no resume.
    assert not ingest_runs.is_interrupted(left)
    assert ingest_runs.execute_run(run.id) == "running elsewhere"
    assert not ingest_runs.resume_run(session, run.id)

    # Minutes later: the heartbeat is stale, the run shows as interrupted, and resumes.
    stale = timedelta(seconds=get_settings().task_stale_after_s + 1)
    session.execute(
        update(IngestRun)
        .where(col(IngestRun.id) == run.id)
        .values(heartbeat_at=left.heartbeat_at - stale, updated_at=left.updated_at - stale)
    )
    session.commit()
    session.expire_all()
    assert ingest_runs.is_interrupted(session.get(IngestRun, run.id))
    assert ingest_runs.resume_run(session, run.id)
    drain_local_tasks()
    session.expire_all()
    done = session.get(IngestRun, run.id)
    assert done.status == JobStatus.done and counts(done) == CORPUS_COUNTS
    entries = session.exec(select(IngestFile.entry).where(IngestFile.run_id == run.id)).all()
    assert len(entries) == len(set(entries)) == 11
    report = ingest_runs.report_of(session, run.id)
    assert {line.source for line in report.taken} == {"astronaut.png", "big.png", "sub/coffee.jpg"}
    assert report.counts()["refused_by_reason"]["duplicate"] == 1  # the copy, not a resumed file
    assert len(session.exec(select(SourceImage)).all()) == 3
    assert len(stored_files()) == 6  # an original and a prepared PNG each, nothing left over
    assert done_before < 11


def test_a_run_taken_over_stops_at_its_next_file(session, corpus, monkeypatch):
    """A worker only paused (not dead) while its run was resumed elsewhere stops writing."""
    run = folder_run(session, corpus)
    real, calls = ingest_runs.ingest_one, []

    def resumed_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[2])
        if len(calls) == 2:
            session.execute(
                update(IngestRun).where(col(IngestRun.id) == run.id).values(claimed_by=None)
            )
            session.commit()
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_runs, "ingest_one", resumed_meanwhile)
    assert ingest_runs.execute_run(run.id) == "taken over"
    assert len(calls) == 2
    session.expire_all()
    assert session.get(IngestRun, run.id).processed == 1
