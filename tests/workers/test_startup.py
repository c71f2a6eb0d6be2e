"""A worker that starts sends again the compression jobs that a restart left with nobody on
them: in-process (embedded) and as a Celery worker. The clock is moved, not waited for."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from backend.core.config import get_settings
from backend.models import CompressionJob, JobStatus, RateSetting, Reconstruction, utcnow
from backend.services import claims, compression
from backend.services.tasks import drain_local_tasks
from tests.utils import factories
from tests.utils.factories import photo


@pytest.fixture()
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks sent run in this process (what the embedded worker does)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()


def job_rows(session: Session) -> list[CompressionJob]:
    session.expire_all()
    return list(session.exec(select(CompressionJob).order_by(CompressionJob.id)).all())


def make_jobs(session: Session, settings: list[tuple[str, RateSetting]]) -> list[int]:
    source = factories.make_source(session, photo("astronaut")[:64, :64], "start", "startup")
    return compression.create_jobs(session, [source.id], settings)


def left_by_a_dead_worker(session: Session, job_id: int) -> None:
    """The job is running, claimed by a worker whose process is gone (its heartbeat stops)."""
    assert claims.claim(session, CompressionJob, job_id, "gone-host:4242:dead")


def age_past_the_limit(session: Session) -> None:
    """Move the one job's heartbeat and last change back past the staleness limit."""
    stale = timedelta(seconds=get_settings().task_stale_after_s + 1)
    job = job_rows(session)[0]
    job.heartbeat_at, job.updated_at = job.heartbeat_at - stale, job.updated_at - stale
    session.add(job)
    session.commit()


def test_a_start_sends_again_the_jobs_nobody_is_on_and_codes_each_once(session, in_process):
    from workers import startup

    running, queued, stored = make_jobs(
        session, [("90", RateSetting.low), ("90", RateSetting.high), ("91", RateSetting.low)]
    )
    left_by_a_dead_worker(session, running)
    # The third one's worker died after storing the reconstruction, before marking the job.
    from workers.tasks import compress

    assert compress.run(stored) == "done"
    session.get(CompressionJob, stored).status = JobStatus.running
    session.commit()
    # Just after the restart: a claim is still fresh, a job queued a moment ago may be in flight.
    assert startup.resume_interrupted_jobs() == []
    assert [job.status for job in job_rows(session)] == [
        JobStatus.running,
        JobStatus.queued,
        JobStatus.running,
    ]

    later = utcnow() + timedelta(seconds=get_settings().task_stale_after_s + 1)
    assert startup.resume_interrupted_jobs(now=later) == [running, queued, stored]
    # Sent once: another worker starting at the same moment finds nothing to send.
    assert startup.resume_interrupted_jobs(now=later) == []
    drain_local_tasks()
    jobs = job_rows(session)
    assert [job.status for job in jobs] == [JobStatus.done] * 3
    assert [job.attempts for job in jobs] == [1, 1, 1]  # the stored one was not coded again
    recons = session.exec(select(Reconstruction).order_by(Reconstruction.id)).all()
    assert sorted(r.model_id for r in recons) == ["90H", "90L", "91L"]
    assert {job.reconstruction_id for job in jobs} == {r.id for r in recons}


def test_a_start_leaves_jobs_with_a_live_worker_to_it(session, in_process):
    """A claim kept fresh is another worker's; queued jobs wait their turn while it works. A
    job sent again all the same is harmless: the task leaves it to its worker."""
    from workers import startup
    from workers.tasks import compress

    live, waiting, stranded = make_jobs(
        session, [("90", RateSetting.low), ("90", RateSetting.high), ("91", RateSetting.low)]
    )
    later = utcnow() + timedelta(seconds=get_settings().task_stale_after_s + 1)
    assert claims.claim(session, CompressionJob, stranded, "gone-host:4242:dead")
    assert claims.claim(session, CompressionJob, live, "live-host:1:alive", now=later)
    assert startup.resume_interrupted_jobs(now=later) == [stranded]
    drain_local_tasks()
    by_id = {job.id: job for job in job_rows(session)}
    assert by_id[stranded].status == JobStatus.done
    assert by_id[waiting].status == JobStatus.queued
    assert by_id[live].status == JobStatus.running and by_id[live].claimed_by == "live-host:1:alive"
    assert compress.run(live) == "running elsewhere"
    assert by_id[live].attempts == 0 and job_rows(session)[0].claimed_by == "live-host:1:alive"


def test_the_embedded_worker_sends_them_again_when_the_app_starts(session, in_process):
    from fastapi.testclient import TestClient

    from workers.embedded import create_app

    [job_id] = make_jobs(session, [("91", RateSetting.low)])
    left_by_a_dead_worker(session, job_id)
    age_past_the_limit(session)
    with TestClient(create_app()):
        drain_local_tasks()
    [job] = job_rows(session)
    assert job.status == JobStatus.done and job.reconstruction_id is not None


needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
    reason="a real worker needs DATABASE_URL and REDIS_URL",
)


@needs_redis
@pytest.mark.worker
def test_a_celery_worker_sends_them_again_when_it_is_ready(session, data_dir, tmp_path):
    """No message is left for the job (the broker lost it, or no redelivery follows): the
    worker's ``worker_ready`` hook sends it again and the worker codes it."""
    import redis

    from tests.workers.helpers import Worker, wait_for

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    [job_id] = make_jobs(session, [("91", RateSetting.low)])
    left_by_a_dead_worker(session, job_id)
    age_past_the_limit(session)
    env = {**os.environ, "SCLIC_DATA_DIR": str(data_dir)}
    log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    worker = Worker(env, log)
    try:
        wait_for(lambda: job_rows(session)[0].status == JobStatus.done, 120, "job done", log)
    finally:
        worker.stop()
    assert "sent 1 interrupted compression job(s) again" in log.read_text()
    assert job_rows(session)[0].attempts == 1
