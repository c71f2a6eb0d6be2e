"""Compression jobs: one row per (source image, codec, setting), created once, run by workers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from backend.core.config import get_settings
from backend.models import CompressionJob, JobStatus, Reconstruction, Setting, utcnow
from backend.services.tasks import enqueue


def create_jobs(
    session: Session, source_ids: Iterable[int], codec_settings: Iterable[tuple[str, Setting]]
) -> list[int]:
    """Add the missing jobs and return their ids, in one query and one bulk insert.

    Existing jobs are left alone whatever their state, so asking twice enqueues nothing twice;
    failed jobs are re-run through :func:`retry_job`.
    """
    sources = sorted(set(source_ids))
    pairs = list(dict.fromkeys(codec_settings))
    if not sources or not pairs:
        return []
    existing = {
        (source_id, codec_id, Setting(setting))
        for source_id, codec_id, setting in session.exec(
            select(
                CompressionJob.source_image_id, CompressionJob.codec_id, CompressionJob.setting
            ).where(col(CompressionJob.source_image_id).in_(sources))
        ).all()
    }
    now = utcnow()
    rows = [
        {
            "source_image_id": source_id,
            "codec_id": codec_id,
            "setting": setting,
            "status": JobStatus.queued,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        # Grouped by codec and setting, so that jobs started in batches share a model.
        for codec_id, setting in pairs
        for source_id in sources
        if (source_id, codec_id, setting) not in existing
    ]
    if not rows:
        return []
    ids = session.scalars(
        insert(CompressionJob).returning(col(CompressionJob.id)),
        rows,
    ).all()
    session.commit()
    return sorted(i for i in ids if i is not None)


def start_jobs(job_ids: Iterable[int]) -> None:
    """Enqueue after the commit that created the rows: one job a message, or
    ``SCLIC_CODEC_BATCH`` jobs a message for the codec worker to code as batches."""
    ids = list(job_ids)
    size = get_settings().codec_batch
    if size == 1:
        for job_id in ids:
            enqueue("compress", job_id)
        return
    for first in range(0, len(ids), size):
        enqueue("compress_batch", ids[first : first + size])


def retry_job(session: Session, job_id: int) -> bool:
    result = session.execute(
        update(CompressionJob)
        .where(col(CompressionJob.id) == job_id, col(CompressionJob.status) == JobStatus.failed)
        .values(status=JobStatus.queued, error=None, updated_at=utcnow())
    )
    session.commit()
    if result.rowcount == 1:  # type: ignore[attr-defined]
        start_jobs([job_id])
        return True
    return False


@dataclass
class CodecProgress:
    codec_id: str
    setting: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        return self.counts.get("queued", 0) == 0 and self.counts.get("running", 0) == 0


def progress(session: Session) -> list[CodecProgress]:
    rows = session.exec(
        select(
            CompressionJob.codec_id, CompressionJob.setting, CompressionJob.status, func.count()
        ).group_by(CompressionJob.codec_id, CompressionJob.setting, CompressionJob.status)
    ).all()
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for codec_id, setting, status, count in rows:
        table[(codec_id, Setting(setting).value)][JobStatus(status).value] = int(count)
    return [CodecProgress(c, s, counts) for (c, s), counts in sorted(table.items())]


def failures(session: Session, limit: int = 200) -> list[CompressionJob]:
    return list(
        session.exec(
            select(CompressionJob)
            .where(CompressionJob.status == JobStatus.failed)
            .order_by(col(CompressionJob.updated_at).desc())
            .limit(limit)
        ).all()
    )


def metric_failures(session: Session, limit: int = 100) -> list[Reconstruction]:
    """Stored reconstructions whose metrics failed on the ``cpu`` queue, newest first (the
    reason is ``metrics_error``)."""
    return list(
        session.exec(
            select(Reconstruction)
            .where(
                col(Reconstruction.ssim).is_(None), col(Reconstruction.metrics_error).is_not(None)
            )
            .order_by(col(Reconstruction.id).desc())
            .limit(limit)
        ).all()
    )


def measure_again(session: Session, reconstruction_id: int) -> bool:
    """Send an unmeasured reconstruction to the ``cpu`` queue again; False if it is measured
    already or gone."""
    recon = session.get(Reconstruction, reconstruction_id)
    if recon is None or recon.ssim is not None:
        return False
    recon.metrics_error = None
    session.add(recon)
    session.commit()
    enqueue("measure", reconstruction_id)
    return True
