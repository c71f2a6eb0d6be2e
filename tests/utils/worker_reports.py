"""Worker reports as a worker would write them, with chosen codecs, queues and age."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta

from sqlmodel import Session, select

from backend.core.db import get_engine
from backend.models import WorkerReport, utcnow
from backend.services import worker_reports
from backend.services.worker_reports import CodecCapability, WorkerSnapshot
from workers.codecs.registry import entries


def report_worker(
    worker: str = "gpu0@test-host",
    *,
    missing: Mapping[str, str] | None = None,
    only: Collection[str] | None = None,
    queues: tuple[str, ...] = ("gpu",),
    age_s: float = 0.0,
) -> WorkerSnapshot:
    """Record a report of ``worker``: every registered codec (or those in ``only``) able to
    run except those in ``missing`` (id -> what is missing), written ``age_s`` seconds ago."""
    missing = missing or {}
    codecs = tuple(
        CodecCapability(
            codec_id=e.codec_id,
            name=e.name,
            family=e.family,
            paper=e.paper,
            low=e.settings["low"].describe(),
            high=e.settings["high"].describe(),
            available=e.codec_id not in missing,
            missing=missing.get(e.codec_id, ""),
        )
        for e in entries()
        if only is None or e.codec_id in only
    )
    snapshot = WorkerSnapshot(
        worker=worker,
        queues=queues,
        device="cpu",
        versions={"python": "3.11", "torch": "test", "compressai": "test"},
        codecs=codecs,
    )
    with Session(get_engine()) as session:
        worker_reports.record(session, snapshot)
        if age_s:
            row = session.exec(select(WorkerReport).where(WorkerReport.worker == worker)).one()
            row.reported_at = utcnow() - timedelta(seconds=age_s)
            session.add(row)
            session.commit()
    return snapshot
