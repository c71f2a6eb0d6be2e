"""Celery tasks. Each takes ids, re-reads its rows, and returns quietly when the work is done
already or the row is gone, so a duplicate delivery or a re-run does no harm. Their retry policy
for transient failures is the app's base task (:class:`workers.celery_app.BackgroundTask`).

A job or an ingest run is claimed on its row, with a heartbeat while it is worked on
(:mod:`backend.services.claims`): a second delivery leaves a live claim to its worker and takes
over a stale one. Whatever a job's coding raises, the job ends ``done``, ``failed`` with the
reason, or ``queued`` again for a transient failure: never ``running`` with no worker on it.
A coded result becomes its reconstruction row in :mod:`workers.storing`; what a worker does when
it starts (and the jobs a restart left with nobody on them) is in :mod:`workers.startup`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from sqlmodel import Session

from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.models import (
    CompressionJob,
    JobStatus,
    RateSetting,
    Reconstruction,
    SourceImage,
    utcnow,
)
from backend.services import claims, ingest_runs
from backend.services.images import find_reconstruction
from backend.services.store import absolute, store_root
from backend.services.tasks import enqueue
from workers import storing
from workers.celery_app import TRANSIENT, celery_app

log = logging.getLogger("sclic.workers")


def _session() -> Session:
    return Session(get_engine(), expire_on_commit=False)


def _finish(session: Session, job: CompressionJob, status: JobStatus, **values: Any) -> None:
    job.status = status
    job.updated_at = utcnow()
    for key, value in values.items():
        setattr(job, key, value)
    session.add(job)
    session.commit()


@celery_app.task(name="workers.tasks.compress")
def compress(job_id: int) -> str:
    """Compress one source image with one codec at one setting (a ``CompressionJob``): code,
    decode, store the reconstruction under its blind name, then hand the metrics and the tiles
    to the ``cpu`` queue."""
    return _compress_jobs([job_id])[0]


@celery_app.task(name="workers.tasks.compress_batch")
def compress_batch(job_ids: list[int]) -> list[str]:
    """:func:`compress` for several jobs, coded as batches where the codec allows (same codec,
    setting and size; ``SCLIC_CODEC_BATCH`` sets how many jobs a message carries)."""
    return _compress_jobs([int(job_id) for job_id in job_ids])


def _follow_up(recon: Reconstruction) -> None:
    """Hand a stored reconstruction to the ``cpu`` queue (after the commit that made it)."""
    enqueue("measure", recon.id)  # type: ignore[arg-type]
    enqueue("make_tiles", recon.id)  # type: ignore[arg-type]


def _start(session: Session, job: CompressionJob) -> SourceImage | str:
    """The source of a claimed job, its attempt counted; or what became of a job with nothing
    to do."""
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


def _leave_to_its_worker(task_name: str, row_id: int) -> None:
    """A second delivery while a live worker holds the job or run: look again later, when it is
    done or, if that worker died meanwhile, free to take over. In-process (no broker) the holder
    is a thread of this process and finishes the work itself."""
    settings = get_settings()
    log.info("%s %s is running on another worker; checking again later", task_name, row_id)
    if settings.redis_url:
        enqueue(task_name, row_id, delay_s=settings.task_busy_recheck_s)


def _compress_jobs(job_ids: list[int]) -> list[str]:
    from workers.codecs.pipeline import codes_in_batches

    statuses: dict[int, str] = {}
    with _session() as session:
        groups: dict[tuple[str, RateSetting], list[CompressionJob]] = {}
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
        token = claims.worker_token()
        held: list[CompressionJob] = []
        try:
            for jobs in groups.values():
                for job in jobs:
                    if claims.claim(session, CompressionJob, job.id, token):  # type: ignore[arg-type]
                        session.refresh(job)
                        held.append(job)
                    else:
                        statuses[job.id] = "running elsewhere"  # type: ignore[index]
                        _leave_to_its_worker("compress", job.id)  # type: ignore[arg-type]
            with claims.heartbeat(CompressionJob, [job.id for job in held if job.id], token):
                _code_claimed(session, held, statuses)
        except TRANSIENT:
            # Every claimed job not finished goes back to the queue; the retry runs them.
            _end_unfinished(
                session, held, statuses, JobStatus.queued, "transient failure, retrying"
            )
            raise
        except Exception as exc:
            # Not a codec's refusal (those are recorded per job): a fault of ours. Its jobs fail
            # with the reason instead of staying "running" with nobody on them.
            log.exception("jobs %s failed", [job.id for job in held])
            _end_unfinished(
                session, held, statuses, JobStatus.failed, f"{type(exc).__name__}: {exc}"
            )
    # A job without an outcome was never claimed (a fault came first): left as it was.
    return [statuses.get(job_id, "not started") for job_id in job_ids]


def _code_claimed(session: Session, held: list[CompressionJob], statuses: dict[int, str]) -> None:
    """Start the claimed jobs and code them, grouped by codec and setting."""
    started: dict[tuple[str, RateSetting], list[tuple[CompressionJob, SourceImage]]] = {}
    for job in held:
        source = _start(session, job)
        if isinstance(source, str):
            statuses[job.id] = source  # type: ignore[index]
        else:
            started.setdefault((job.codec_id, job.setting), []).append((job, source))
    for (codec_id, setting), group in started.items():
        _code_group(session, codec_id, setting, group, statuses)


def _end_unfinished(
    session: Session,
    held: list[CompressionJob],
    statuses: dict[int, str],
    status: JobStatus,
    reason: str,
) -> None:
    """Give the claimed jobs without an outcome yet ``status`` and ``reason``."""
    session.rollback()
    with contextlib.suppress(*TRANSIENT):
        for job in held:
            if job.id not in statuses:
                _finish(session, job, status, error=reason[:2000])
                statuses[job.id] = status.value  # type: ignore[index]


def _code_group(
    session: Session,
    codec_id: str,
    setting: RateSetting,
    group: list[tuple[CompressionJob, SourceImage]],
    statuses: dict[int, str],
) -> None:
    """Code claimed jobs of one codec and setting, recording each outcome on its job."""
    from workers.codecs.errors import CodecError
    from workers.codecs.pipeline import run_many

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
        try:
            recon = storing.store(session, source, job, outcome)
        except TRANSIENT:
            raise
        except Exception as exc:
            # A fault of ours with this job's result: it fails alone, with the reason.
            log.exception("storing the result of job %s failed", job.id)
            session.rollback()
            recon = f"{type(exc).__name__}: {exc}"
        if isinstance(recon, str):
            log.warning("job %s failed: %s", job.id, recon)
            _finish(session, job, JobStatus.failed, error=recon)
            statuses[job.id] = "failed"  # type: ignore[index]
            continue
        _finish(session, job, JobStatus.done, reconstruction_id=recon.id, error=None)
        statuses[job.id] = "done"  # type: ignore[index]
        _follow_up(recon)


@celery_app.task(name="workers.tasks.measure")
def measure(reconstruction_id: int) -> str:
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
            recon.metrics_error = f"{type(exc).__name__}: {exc}"[:2000]
            session.add(recon)
            session.commit()
            return "failed"
        recon.psnr, recon.ssim, recon.ms_ssim = scores.psnr, scores.ssim, scores.ms_ssim
        recon.params = {**recon.params, **scores.reasons()}
        recon.metrics_error = None
        session.add(recon)
        session.commit()
    return "measured"


@celery_app.task(name="workers.tasks.make_tiles")
def make_tiles(reconstruction_id: int) -> int:
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


@celery_app.task(name="workers.tasks.ingest")
def ingest(run_id: int) -> str:
    """Ingest the files of run ``run_id`` that it has not done yet (paper, section 3.1), so an
    admin's ingest goes on when the web process restarts, and a run whose worker died is
    finished by the next delivery or the admin's resume."""
    outcome = ingest_runs.execute_run(run_id)
    if outcome == "running elsewhere":
        _leave_to_its_worker("ingest", run_id)
    return outcome
