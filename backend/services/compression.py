"""Compression jobs: one row per (source image, codec, setting), created once, run by workers.

A job whose worker went away (a restart of the embedded process, a Celery worker killed where no
redelivery follows) would stay queued or running with nobody on it: :func:`interrupted_jobs`
finds such jobs, the compression page shows them as interrupted, and :func:`resume_interrupted`
sends them again, from the page's button and whenever a worker starts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, update
from sqlmodel import Session, col, select

from backend.core.config import get_settings
from backend.models import CompressionJob, JobStatus, RateSetting, Reconstruction, utcnow
from backend.services import claims
from backend.services.tasks import enqueue

_WAITING = (JobStatus.queued, JobStatus.running)


def create_jobs(
    session: Session, source_ids: Iterable[int], codec_settings: Iterable[tuple[str, RateSetting]]
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
        (source_id, codec_id, RateSetting(setting))
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
    # Of the queued and running jobs, those that no worker is on (see :func:`interrupted_jobs`).
    interrupted: int = field(default=0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        """Nothing left that a worker is on or will pick up (interrupted jobs wait for a resume,
        so the page stops polling for them)."""
        waiting = self.counts.get("queued", 0) + self.counts.get("running", 0)
        return waiting == self.interrupted


def progress(session: Session, now: datetime | None = None) -> list[CodecProgress]:
    """Jobs per codec and setting and status, with how many of them are interrupted."""
    rows = session.exec(
        select(
            CompressionJob.codec_id, CompressionJob.setting, CompressionJob.status, func.count()
        ).group_by(CompressionJob.codec_id, CompressionJob.setting, CompressionJob.status)
    ).all()
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for codec_id, setting, status, count in rows:
        table[(codec_id, RateSetting(setting).value)][JobStatus(status).value] = int(count)
    stopped: dict[tuple[str, str], int] = defaultdict(int)
    for job in interrupted_jobs(session, now):
        stopped[(job.codec_id, job.setting.value)] += 1
    return [
        CodecProgress(c, s, counts, stopped[(c, s)]) for (c, s), counts in sorted(table.items())
    ]


def _last_sign_of_life() -> ColumnElement[datetime]:
    """When a worker last said it works on a job (its claim's heartbeat), or else when the job
    last changed (created, queued again, finished)."""
    return func.coalesce(col(CompressionJob.heartbeat_at), col(CompressionJob.updated_at))


def interrupted_jobs(session: Session, now: datetime | None = None) -> list[CompressionJob]:
    """Queued or running jobs that no worker is on, oldest first.

    A running job is interrupted when its claim's heartbeat is older than
    ``task_stale_after_s``: its worker is gone. A queued job is interrupted when it has not been
    picked up for that long *and* no worker has worked on any job meanwhile: in a long run the
    later jobs wait their turn in the queue while the workers code the earlier ones, and only a
    queue that stopped moving has lost its messages (an embedded process restarted, say).
    """
    cutoff = claims.stale_before(now)
    last = _last_sign_of_life()
    stale = session.exec(
        select(CompressionJob)
        .where(col(CompressionJob.status).in_(_WAITING), last < cutoff)
        .order_by(col(CompressionJob.id))
    ).all()
    if any(job.status == JobStatus.queued for job in stale) and _workers_active(session, cutoff):
        return [job for job in stale if job.status == JobStatus.running]
    return list(stale)


def _workers_active(session: Session, since: datetime) -> bool:
    """Whether a worker has worked on a job since ``since``: a fresh claim, or a job that ended."""
    recent = session.exec(
        select(CompressionJob.id)
        .where(
            col(CompressionJob.status) != JobStatus.queued,
            _last_sign_of_life() >= since,
        )
        .limit(1)
    ).first()
    return recent is not None


def resume_interrupted(
    session: Session,
    now: datetime | None = None,
    *,
    leave_codecs: Iterable[str] = (),
) -> list[int]:
    """Queue the interrupted jobs again and send them, but those of ``leave_codecs``; their ids.

    Each job's stale claim is dropped in one compare-and-set UPDATE that only touches a job
    still interrupted, so two workers starting at once do not both send it, and a worker that
    was only paused finds its claim gone. Sending a job again that a live worker took meanwhile
    does no harm: the task's claim decides who codes it, and a job done already stays done.
    """
    now = now or utcnow()
    left = set(leave_codecs)
    ids = [
        job.id
        for job in interrupted_jobs(session, now)
        if job.id is not None and job.codec_id not in left
    ]
    if not ids:
        return []
    resumed = session.scalars(
        update(CompressionJob)
        .where(
            col(CompressionJob.id).in_(ids),
            col(CompressionJob.status).in_(_WAITING),
            _last_sign_of_life() < claims.stale_before(now),
        )
        .values(status=JobStatus.queued, claimed_by=None, heartbeat_at=None, updated_at=now)
        .returning(col(CompressionJob.id))
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    sent = sorted(i for i in resumed if i is not None)
    start_jobs(sent)
    return sent


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
