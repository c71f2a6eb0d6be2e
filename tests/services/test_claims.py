"""A compression job or ingest run is worked on by one live worker at a time: a claim on its row
that a heartbeat keeps fresh, and that the next worker takes over once it is stale."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

from backend.core.config import get_settings
from backend.models import CompressionJob, JobStatus, RateSetting
from backend.services import claims
from tests.utils import factories
from tests.utils.factories import photo

REPO = Path(__file__).resolve().parents[2]


def make_jobs(session, n: int = 2) -> list[CompressionJob]:  # type: ignore[no-untyped-def]
    source = factories.make_source(session, photo("astronaut")[:64, :64], "claims", "claims")
    jobs = [
        CompressionJob(source_image_id=source.id, codec_id=f"9{i}", setting=RateSetting.low)
        for i in range(n)
    ]
    session.add_all(jobs)
    session.commit()
    return jobs


def test_a_claimed_job_is_not_claimed_twice_and_is_free_once_it_ends(session) -> None:
    first, second = make_jobs(session)
    assert claims.claim(session, CompressionJob, first.id, "worker-a")
    assert not claims.claim(session, CompressionJob, first.id, "worker-b")
    assert claims.claim(session, CompressionJob, second.id, "worker-b")
    session.refresh(first)
    assert first.status == JobStatus.running and first.claimed_by == "worker-a"
    assert first.heartbeat_at is not None
    # Only the holder renews its heartbeat.
    assert claims.refresh(CompressionJob, [first.id, second.id], "worker-a") == 1
    first.status = JobStatus.done
    session.add(first)
    session.commit()
    assert claims.claim(session, CompressionJob, first.id, "worker-b")
    assert not claims.claim(session, CompressionJob, 999_999, "worker-b")


def test_a_killed_holders_claim_is_taken_over_once_its_heartbeat_is_stale(session) -> None:
    """Another process claims job 1 and dies without letting go (SIGKILL): the job is left to
    it while its heartbeat is fresh, and taken over once the heartbeat is older than
    ``task_stale_after_s`` (the clock is moved on rather than waited for)."""
    [job] = make_jobs(session, 1)
    code = textwrap.dedent(
        f"""
        import sys
        from sqlmodel import Session
        from backend.core.db import get_engine
        from backend.models import CompressionJob
        from backend.services import claims
        with Session(get_engine()) as session:
            assert claims.claim(session, CompressionJob, {job.id}, "doomed")
        with claims.heartbeat(CompressionJob, [{job.id}], "doomed"):
            print("held", flush=True)
            sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not claims.claim(session, CompressionJob, job.id, "next")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    session.refresh(job)
    assert job.status == JobStatus.running and job.claimed_by == "doomed"
    # Right after the kill the claim still looks live; a second delivery leaves it alone.
    assert not claims.claim(session, CompressionJob, job.id, "next")
    assert not claims.is_stale(job)
    later = job.heartbeat_at + timedelta(seconds=get_settings().task_stale_after_s + 1)
    assert claims.is_stale(job, now=later)
    assert claims.claim(session, CompressionJob, job.id, "next", now=later)
    session.refresh(job)
    assert job.claimed_by == "next"


def test_the_heartbeat_renews_a_claim_while_the_work_runs(session, monkeypatch) -> None:
    monkeypatch.setenv("SCLIC_TASK_HEARTBEAT_S", "0.05")
    get_settings.cache_clear()
    [job] = make_jobs(session, 1)
    assert claims.claim(session, CompressionJob, job.id, "worker-a")
    session.refresh(job)
    claimed_at = job.heartbeat_at
    deadline = time.monotonic() + 30
    with claims.heartbeat(CompressionJob, [job.id], "worker-a"):
        while time.monotonic() < deadline:
            session.refresh(job)
            if job.heartbeat_at > claimed_at:
                break
            time.sleep(0.05)
    assert job.heartbeat_at > claimed_at
    # A row that is not running (finished) keeps its last heartbeat.
    job.status = JobStatus.done
    session.add(job)
    session.commit()
    assert claims.refresh(CompressionJob, [job.id], "worker-a") == 0
