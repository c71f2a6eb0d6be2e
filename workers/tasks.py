"""Celery tasks. Each takes ids, re-reads its rows, and returns quietly when the work is done
already or the row is gone, so a duplicate delivery or a re-run does no harm."""

from __future__ import annotations

import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

from celery.signals import worker_ready
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.models import (
    CompressionJob,
    JobStatus,
    Reconstruction,
    Setting,
    SourceImage,
    utcnow,
)
from backend.services.images import add_reconstruction_row, find_reconstruction
from backend.services.store import absolute, store_root
from backend.services.tasks import enqueue
from workers import job_locks
from workers.celery_app import celery_app

log = logging.getLogger("sclic.workers")

# Failures worth another try: the database or the broker was briefly away (kombu's error for
# an unreachable broker is not a ConnectionError).
TRANSIENT = (OperationalError, BrokerError, ConnectionError, TimeoutError)


@worker_ready.connect
def sweep_leftovers(**_: object) -> int:
    """Before any work: remove what workers killed mid-write on this host left (temporary
    files in the reconstruction store, external programs' work folders)."""
    from workers.codecs.external import sweep_orphan_workdirs
    from workers.codecs.pipeline import sweep_temp_files

    folder = store_root() / "reconstructions"
    removed = (sweep_temp_files(folder) if folder.is_dir() else 0) + sweep_orphan_workdirs()
    if removed:
        log.info("removed %d temporary file(s) or folder(s) of killed workers", removed)
    return removed


def _session() -> Session:
    return Session(get_engine(), expire_on_commit=False)


def _finish(session: Session, job: CompressionJob, status: JobStatus, **values: Any) -> None:
    job.status = status
    job.updated_at = utcnow()
    for key, value in values.items():
        setattr(job, key, value)
    session.add(job)
    session.commit()


_CODEC_TASK = {
    "bind": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": get_settings().task_max_retries,
}


@celery_app.task(name="workers.tasks.compress", **_CODEC_TASK)
def compress(self: Any, job_id: int) -> str:
    """Compress one source image with one codec at one setting (a ``CompressionJob``): code,
    decode, store the reconstruction under its blind name, then hand the metrics and the tiles
    to the ``cpu`` queue."""
    return _compress_jobs([job_id])[0]


@celery_app.task(name="workers.tasks.compress_batch", **_CODEC_TASK)
def compress_batch(self: Any, job_ids: list[int]) -> list[str]:
    """:func:`compress` for several jobs, coded as batches where the codec allows (same codec,
    setting and size; ``SCLIC_CODEC_BATCH`` sets how many jobs a message carries)."""
    return _compress_jobs([int(job_id) for job_id in job_ids])


def _follow_up(recon: Reconstruction) -> None:
    """Hand a stored reconstruction to the ``cpu`` queue (after the commit that made it)."""
    enqueue("measure", recon.id)  # type: ignore[arg-type]
    enqueue("make_tiles", recon.id)  # type: ignore[arg-type]


def _claim(session: Session, job: CompressionJob) -> SourceImage | str:
    """The job's source, the job marked running; or what became of a job with nothing to do."""
    source = session.get(SourceImage, job.source_image_id)
    if source is None:
        _finish(session, job, JobStatus.failed, error="the source image was removed")
        return "failed"
    existing = find_reconstruction(session, source.id, job.codec_id, job.setting)  # type: ignore[arg-type]
    if existing is not None:
        _finish(session, job, JobStatus.done, reconstruction_id=existing.id, error=None)
        if existing.ssim is None:
            # A worker died between storing the row and handing it on: hand it on now.
            _follow_up(existing)
        return "done already"
    _finish(session, job, JobStatus.running, attempts=job.attempts + 1, error=None)
    return source


def _leave_to_its_worker(job_id: int) -> None:
    """A second delivery while a live worker codes the job: look again later, when it is done
    or, if that worker died meanwhile, free to take over. In-process (no broker) the holder is
    a thread of this process and finishes the job itself."""
    settings = get_settings()
    log.info("job %s is running on another worker; checking again later", job_id)
    if settings.redis_url:
        enqueue("compress", job_id, delay_s=settings.task_busy_recheck_s)


def _compress_jobs(job_ids: list[int]) -> list[str]:
    from workers.codecs.pipeline import codes_in_batches

    statuses: dict[int, str] = {}
    with _session() as session:
        groups: dict[tuple[str, Setting], list[CompressionJob]] = {}
        for job_id in dict.fromkeys(job_ids):
            job = session.get(CompressionJob, job_id)
            if job is None:
                statuses[job_id] = "gone"
            else:
                groups.setdefault((job.codec_id, job.setting), []).append(job)
        for (codec_id, setting), jobs in list(groups.items()):
            if len(jobs) > 1 and not codes_in_batches(codec_id):
                # One image at a time anyway: one message each, so a long run of a slow
                # codec never outlasts the broker's visibility timeout.
                for job in jobs:
                    enqueue("compress", job.id)  # type: ignore[arg-type]
                    statuses[job.id] = "sent alone"  # type: ignore[index]
                del groups[(codec_id, setting)]
        wanted = [job.id for jobs in groups.values() for job in jobs if job.id is not None]
        with job_locks.hold(wanted) as held:
            claims: dict[tuple[str, Setting], list[tuple[CompressionJob, SourceImage]]] = {}
            for key, jobs in groups.items():
                for job in jobs:
                    if job.id not in held:
                        _leave_to_its_worker(job.id)  # type: ignore[arg-type]
                        statuses[job.id] = "running elsewhere"  # type: ignore[index]
                        continue
                    claimed = _claim(session, job)
                    if isinstance(claimed, str):
                        statuses[job.id] = claimed  # type: ignore[index]
                    else:
                        claims.setdefault(key, []).append((job, claimed))
            try:
                for (codec_id, setting), group in claims.items():
                    _code_group(session, codec_id, setting, group, statuses)
            except TRANSIENT:
                # Every claimed job not finished goes back to the queue; the retry runs them.
                session.rollback()
                with contextlib.suppress(*TRANSIENT):
                    for job, _ in (claim for group in claims.values() for claim in group):
                        if job.id not in statuses:
                            _finish(
                                session, job, JobStatus.queued, error="transient failure, retrying"
                            )
                raise
    return [statuses[job_id] for job_id in job_ids]


def _code_group(
    session: Session,
    codec_id: str,
    setting: Setting,
    group: list[tuple[CompressionJob, SourceImage]],
    statuses: dict[int, str],
) -> None:
    """Code claimed jobs of one codec and setting, recording each outcome on its job."""
    from workers.allocator import keep_freed_memory
    from workers.codecs.errors import CodecError
    from workers.codecs.pipeline import run_many

    keep_freed_memory()  # this process codes images: keep their memory from one to the next
    settings = get_settings()
    try:
        outcomes = run_many(
            codec_id,
            setting.value,
            [absolute(source.prepared_path) for _, source in group],
            store_root() / "reconstructions",
            device=settings.codec_device,
            weights_dir=settings.weights_dir,
            measure=False,
            model_batch=settings.codec_model_batch or None,
        )
    except TRANSIENT:
        raise
    except Exception as exc:
        # A codec's own refusal (missing weights, say): retrying does not help; the admin can
        # retry by hand once it is fixed.
        log.warning("jobs %s failed: %s", [job.id for job, _ in group], exc)
        outcomes = [exc for _ in group]
    for (job, source), outcome in zip(group, outcomes, strict=True):
        if isinstance(outcome, Exception):
            expected = isinstance(outcome, CodecError)
            log.log(
                logging.WARNING if expected else logging.ERROR,
                "job %s failed: %s",
                job.id,
                outcome,
                exc_info=None if expected else outcome,
            )
            _finish(session, job, JobStatus.failed, error=f"{type(outcome).__name__}: {outcome}")
            statuses[job.id] = "failed"  # type: ignore[index]
            continue
        recon = _add_row(session, source, job, outcome)
        _finish(session, job, JobStatus.done, reconstruction_id=recon.id, error=None)
        statuses[job.id] = "done"  # type: ignore[index]
        _follow_up(recon)


def _add_row(
    session: Session, source: SourceImage, job: CompressionJob, result: dict[str, Any]
) -> Reconstruction:
    root = store_root()
    return add_reconstruction_row(
        session,
        source,
        codec_id=job.codec_id,
        setting=job.setting,
        blind_name=result["blind_name"],
        png_relpath=_relative(Path(result["reconstruction_path"]), root),
        bitstream_relpath=_relative(Path(result["bitstream_path"]), root),
        width=result["width"],
        height=result["height"],
        measures={
            **result,
            "params": {
                **result.get("params", {}),
                "level": result.get("level"),
                "target_bpp": result.get("target_bpp"),
                "worker": socket.gethostname(),
            },
        },
    )


def _relative(path: Path, root: Path) -> str:
    return str(path.resolve().relative_to(root.resolve()))


@celery_app.task(
    bind=True,
    name="workers.tasks.measure",
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    max_retries=get_settings().task_max_retries,
)
def measure(self: Any, reconstruction_id: int) -> str:
    """PSNR, SSIM and MS-SSIM of a stored reconstruction against its source, on the CPU, so the
    codec worker moves on to the next image meanwhile. SSIM is never empty once measured (every
    stored reconstruction has sides of 11 px at least), so it marks the work as done."""
    from workers.codecs.pipeline import measure_files

    with _session() as session:
        recon = session.get(Reconstruction, reconstruction_id)
        if recon is None:
            return "gone"
        if recon.ssim is not None:
            return "measured already"
        source = session.get(SourceImage, recon.source_image_id)
        if source is None:
            return "gone"
        try:
            scores = measure_files(absolute(source.prepared_path), absolute(recon.png_path))
        except Exception as exc:
            # A missing or unreadable file does not get better by retrying: say so on the row.
            log.exception("measuring reconstruction %s failed", reconstruction_id)
            recon.params = {**recon.params, "metrics_error": f"{type(exc).__name__}: {exc}"}
            session.add(recon)
            session.commit()
            return "failed"
        recon.psnr, recon.ssim, recon.ms_ssim = scores["psnr"], scores["ssim"], scores["ms_ssim"]
        recon.params = {
            **recon.params,
            "ms_ssim_reason": scores["ms_ssim_reason"],
            "psnr_reason": scores["psnr_reason"],
            "metrics_s": scores["metrics_s"],
            "metrics_error": None,
        }
        session.add(recon)
        session.commit()
    return "measured"


@celery_app.task(
    bind=True,
    name="workers.tasks.make_tiles",
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    max_retries=get_settings().task_max_retries,
)
def make_tiles(self: Any, reconstruction_id: int) -> int:
    """Pre-render the tile pyramids of a reconstruction, its original and their difference map,
    so the first labeler to open the pair finds every tile ready."""
    from backend.iiif import ResolvedImage, TileService

    with _session() as session:
        recon = session.get(Reconstruction, reconstruction_id)
        if recon is None:
            return 0
        source = session.get(SourceImage, recon.source_image_id)
        if source is None:
            return 0
        original = absolute(source.prepared_path)
        reconstruction = absolute(recon.png_path)
        images = [
            ResolvedImage(recon.blind_name, "image", reconstruction),
            ResolvedImage(source.prepared_sha1, "image", original),
            ResolvedImage(f"{recon.blind_name}-diff", "diff", original, reconstruction),
        ]
    settings = get_settings()
    service = TileService(settings.tile_cache_dir, tile_size=settings.tile_size)
    return sum(service.pregenerate(image) for image in images)
