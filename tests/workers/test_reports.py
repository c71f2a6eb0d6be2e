"""Workers report which codecs they can run: at start, then every interval, and as stopped
when they stop; a killed one goes stale and shows as gone."""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session, select

from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.models import WorkerReport
from backend.services import worker_reports
from tests.workers.helpers import Worker, wait_for


def test_a_report_says_what_runs_here_and_what_is_missing(session, tmp_path, monkeypatch):
    from workers import reports

    monkeypatch.setenv("SCLIC_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("SCLIC_CODEC_DEVICE", "cpu")
    get_settings.cache_clear()
    reports.report_once("embedded@test", reports.EMBEDDED_QUEUES)
    [status] = worker_reports.workers(session)
    assert status.live and status.queues == ("gpu", "cpu") and status.device == "cpu"
    assert set(status.versions) == {"python", "sclic", "torch", "compressai"}
    codecs = {c.codec_id: c for c in status.codecs}
    assert codecs["91"].available and codecs["90"].available  # Pillow, shipped demo weights
    assert not codecs["01"].available
    assert "bmshj2018-hyperprior-3-6d87be32.pth.tar" in codecs["01"].missing
    assert not codecs["03"].available and "not implemented" in codecs["03"].missing
    assert codecs["01"].paper == "C1" and codecs["01"].low == "level 3 (α = 3)"


def test_the_embedded_app_reports_its_in_process_worker(data_dir, monkeypatch):
    from fastapi.testclient import TestClient

    from workers import embedded, reports

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SCLIC_CODEC_DEVICE", "cpu")
    get_settings.cache_clear()
    with TestClient(embedded.create_app()):
        wait_for(lambda: any(w.live for w in _workers()), 60, "the in-process worker's report")
    # The app's shutdown marks it stopped.
    [status] = _workers()
    assert status.worker == reports.embedded_worker_name() and status.stopped_at is not None


def _workers() -> list[worker_reports.WorkerStatus]:
    with Session(get_engine()) as session:
        return worker_reports.workers(session)


def _offers() -> dict[str, worker_reports.CodecOffer]:
    with Session(get_engine()) as session:
        return worker_reports.codec_offers(session)


needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
    reason="real workers need DATABASE_URL and REDIS_URL",
)


@pytest.fixture()
def report_env(data_dir, tmp_path):
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    env = os.environ.copy()
    env.update(
        SCLIC_DATA_DIR=str(data_dir),
        SCLIC_WORKER_REPORT_INTERVAL_S="1",
        SCLIC_WORKER_REPORT_STALE_S="4",
        SCLIC_CODEC_DEVICE="cpu",
    )
    return env


def _report_rows(session: Session) -> list[WorkerReport]:
    session.expire_all()
    return list(session.exec(select(WorkerReport)).all())


@needs_redis
@pytest.mark.worker
def test_a_real_worker_reports_and_a_stopped_or_killed_one_is_gone(
    session, report_env, tmp_path, monkeypatch
):
    monkeypatch.setenv("SCLIC_WORKER_REPORT_STALE_S", "4")
    get_settings.cache_clear()
    worker = Worker(report_env, tmp_path / "worker.log")
    try:
        [first] = wait_for(lambda: _report_rows(session), 90, "the first report", worker.log)
        first_at = first.reported_at
        # It reports again every interval.
        wait_for(
            lambda: _report_rows(session)[0].reported_at > first_at,
            30,
            "a second report",
            worker.log,
        )
        [status] = _workers()
        assert status.live and set(status.queues) == {"gpu", "cpu"}
        assert status.worker.startswith("test-")
        assert _offers()["91"].offered_by == (status.worker,)
    finally:
        worker.stop()
    [stopped] = _workers()
    assert not stopped.live and stopped.stopped_at is not None
    assert not _offers()["91"].offered

    killed = Worker(report_env, tmp_path / "killed.log")
    try:
        [name] = wait_for(
            lambda: [w.worker for w in _workers() if w.live],
            90,
            "the second worker's report",
            killed.log,
        )
    finally:
        killed.kill()
    # Nothing marks a killed worker: its report goes stale and it shows as gone.
    wait_for(
        lambda: not next(w for w in _workers() if w.worker == name).live,
        30,
        "the killed worker to show as gone",
    )
    gone = next(w for w in _workers() if w.worker == name)
    assert gone.stopped_at is None and gone.age_s > 4
