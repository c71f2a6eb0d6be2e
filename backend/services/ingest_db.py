"""Ingest into the platform: originals kept unchanged, prepared PNGs stored, one row per image.

Paper, section 3.1: sources were centre-cropped to multiples of 16 pixels, downscaled to at most
2304 pixels per side (RAISE first to 40 %), and images without three channels or that were
corrupted were removed. :mod:`backend.ingest` decides and prepares; this module stores what was
taken through :func:`backend.services.images.register_source` and keeps a report line for every
file. A file is either stored whole (original, prepared PNG and row) or not at all, and a
second ingest of the same files adds nothing: the SHA-256 of the original bytes identifies it.

Ingests started from the admin pages run in a background thread and write their counts to an
:class:`~backend.models.IngestRun` row, which the progress widget polls; the full report is kept
in that row when the run ends.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.ingest.prepare import PrepareOptions, PrepareOutcome, prepare_with_options
from backend.ingest.report import IngestReport, ReportLine
from backend.ingest.scan import scan_folder
from backend.ingest.validate import Rejection, RejectReason, SourceFormat, read_source
from backend.models import IngestRun, JobStatus, SourceDataset, SourceImage, utcnow
from backend.services.images import get_or_create_dataset, register_source
from backend.services.store import absolute, sha1_bytes

log = logging.getLogger("sclic.ingest")

DATASET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,127}$")
_SUFFIX = {SourceFormat.PNG: ".png", SourceFormat.JPEG: ".jpg", SourceFormat.TIFF: ".tif"}
# A running ingest writes its report lines at most this often; counts go out with every file.
REPORT_FLUSH_S = 2.0
# A run that has not moved for this long is shown as stalled (its process probably ended).
STALL_AFTER_S = 300.0


class IngestError(ValueError):
    """A request that cannot start: bad dataset name, folder missing, conflicting scale."""


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """What an operator chooses per ingest: ``scale`` (RAISE: 0.4), ``convert``, ``recursive``."""

    scale: float | None = None
    convert: bool = False
    recursive: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "convert": self.convert, "recursive": self.recursive}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestOptions:
        scale = data.get("scale")
        return cls(
            scale=None if scale is None else float(scale),
            convert=bool(data.get("convert", False)),
            recursive=bool(data.get("recursive", True)),
        )


def check_dataset_name(name: str) -> str:
    name = name.strip()
    if not DATASET_NAME_RE.match(name):
        raise IngestError(
            "dataset names are 1–128 letters, digits, spaces or . _ ( ) + -, "
            "starting with a letter or digit"
        )
    return name


def check_scale(scale: float | None) -> float | None:
    if scale is not None and not 0 < scale <= 1:
        raise IngestError(f"scale must be greater than 0 and at most 1, got {scale}")
    return scale


def dataset_for(session: Session, name: str, scale: float | None) -> SourceDataset:
    """The dataset ``name``, created with ``scale`` if new.

    A dataset keeps the scale of its first ingest (paper, appendix 1.1.3: all RAISE images at
    40 %): a later ingest with another scale is refused, so one dataset is never prepared two
    ways.
    """
    name = check_dataset_name(name)
    check_scale(scale)
    existing = session.exec(select(SourceDataset).where(SourceDataset.name == name)).first()
    if existing is not None and scale is not None and existing.scale != scale:
        shown = "no scale" if existing.scale is None else f"scale {existing.scale}"
        raise IngestError(f"dataset {name!r} was ingested with {shown}; use the same scale")
    return existing or get_or_create_dataset(session, name, scale)


def prepare_options(dataset: SourceDataset, options: IngestOptions) -> PrepareOptions:
    scale = options.scale if options.scale is not None else dataset.scale
    return PrepareOptions.from_settings(get_settings(), scale=scale, convert=options.convert)


def known_hashes(session: Session) -> set[str]:
    """SHA-256 of every original already stored: the identity that refuses duplicates."""
    return set(session.exec(select(SourceImage.original_sha256)).all())


def _store(
    session: Session, dataset: SourceDataset, name: str, raw: bytes, outcome: PrepareOutcome
) -> PrepareOutcome | Rejection:
    """Store an accepted file, or refuse it when its prepared pixels are already stored."""
    prepared_sha1 = sha1_bytes(outcome.png)
    twin = session.exec(
        select(SourceImage.id).where(SourceImage.prepared_sha1 == prepared_sha1)
    ).first()
    if twin is not None:
        return Rejection(
            RejectReason.DUPLICATE,
            f"prepares to the same pixels as source image #{twin} already taken",
            outcome.sha256,
        )
    try:
        _row, created = register_source(
            session,
            dataset,
            original_name=name[:512],
            original_bytes=raw,
            original_suffix=_SUFFIX[outcome.source_format],
            prepared_png=outcome.png,
            width=outcome.width,
            height=outcome.height,
            notes="; ".join(outcome.notes),
        )
    except IntegrityError:
        # A concurrent ingest stored the same image between the checks and the commit.
        session.rollback()
        _remove_orphan_original(session, outcome.sha256, _SUFFIX[outcome.source_format])
        return Rejection(
            RejectReason.DUPLICATE, "stored by another ingest meanwhile", outcome.sha256
        )
    if not created:
        return Rejection(
            RejectReason.DUPLICATE,
            f"same content (SHA-256 {outcome.sha256[:12]}…) as an image already taken",
            outcome.sha256,
        )
    return outcome


def _remove_orphan_original(session: Session, sha256: str, suffix: str) -> None:
    relpath = f"originals/{sha256[:2]}/{sha256}{suffix}"
    used = session.exec(select(SourceImage.id).where(SourceImage.original_path == relpath)).first()
    if used is None:
        absolute(relpath).unlink(missing_ok=True)


def ingest_one(
    session: Session,
    dataset: SourceDataset,
    name: str,
    source: Path | bytes,
    options: PrepareOptions,
    seen: set[str],
) -> PrepareOutcome | Rejection:
    """Check, prepare and store one file; ``seen`` (hashes taken so far) grows when stored."""
    raw = read_source(source, options.max_bytes)
    if isinstance(raw, Rejection):
        return raw
    outcome = prepare_with_options(raw, options, seen)
    if isinstance(outcome, Rejection):
        return outcome
    stored = _store(session, dataset, name, raw, outcome)
    if isinstance(stored, PrepareOutcome):
        seen.add(stored.sha256)
    return stored


def ingest_files(
    session: Session,
    dataset: SourceDataset,
    files: Iterable[tuple[str, Path]],
    options: PrepareOptions,
    on_line: Callable[[ReportLine], None] | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Ingest ``(name in the report, path)`` pairs one at a time and report every file."""
    seen = known_hashes(session)
    report = IngestReport() if report is None else report
    for name, path in files:
        line = report.add(name, ingest_one(session, dataset, name, path, options, seen))
        if on_line is not None:
            on_line(line)
    return report


def folder_files(folder: Path, recursive: bool = True) -> list[tuple[str, Path]]:
    """Candidate files of ``folder`` with their names relative to it, in scan order."""
    return [(path.relative_to(folder).as_posix(), path) for path in scan_folder(folder, recursive)]


def check_folder(folder: str) -> Path:
    path = Path(folder).expanduser()
    if not path.is_absolute():
        raise IngestError("give the folder as an absolute path on the server")
    if not path.is_dir():
        raise IngestError(f"no folder at {path} on the server")
    return path


# --- background runs --------------------------------------------------------------------------


def staging_dir(run_id: int) -> Path:
    """Where uploaded files wait for their run; removed when the run ends."""
    return get_settings().data_dir / "incoming" / str(run_id)


def create_run(
    session: Session,
    dataset: SourceDataset,
    *,
    kind: str,
    source: str,
    options: IngestOptions,
    user_id: int | None,
    uploads: list[tuple[str, str]] | None = None,
) -> IngestRun:
    """A queued run. ``uploads`` lists ``(staged file name, uploaded name)`` for uploads."""
    run = IngestRun(
        dataset_id=dataset.id,  # type: ignore[arg-type]
        kind=kind,
        source=source[:1024],
        options={**options.to_dict(), "uploads": uploads or []},
        total=len(uploads or []),
        created_by=user_id,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_futures: dict[int, Future[None]] = {}


def start_run(run_id: int) -> Future[None]:
    """Run in this process's ingest thread (one at a time: ingest is CPU- and disk-bound)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sclic-ingest")
        future = _pool.submit(execute_run, run_id)
        _futures[run_id] = future
    return future


def wait_for(run_id: int, timeout: float | None = None) -> None:
    """Block until the background run ``run_id`` has ended (tests and the CLI use this)."""
    future = _futures.get(run_id)
    if future is not None:
        future.result(timeout=timeout)


def _run_files(run: IngestRun) -> list[tuple[str, Path]]:
    options = IngestOptions.from_dict(run.options)
    if run.kind == "upload":
        folder = staging_dir(run.id)  # type: ignore[arg-type]
        return [(name, folder / staged) for staged, name in run.options.get("uploads", [])]
    return folder_files(check_folder(run.source), options.recursive)


def execute_run(run_id: int) -> None:
    """Do the work of run ``run_id``; safe to call again (nothing is stored twice)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        run = session.get(IngestRun, run_id)
        if run is None or run.status == JobStatus.done:
            return
        try:
            _execute(session, run)
        except Exception as exc:
            log.exception("ingest run %s failed", run_id)
            session.rollback()
            run = session.get(IngestRun, run_id, populate_existing=True)
            if run is not None:
                run.status = JobStatus.failed
                run.error = f"{type(exc).__name__}: {exc}"
                run.finished_at = run.updated_at = utcnow()
                session.add(run)
                session.commit()
        finally:
            if run is not None and run.kind == "upload":
                shutil.rmtree(staging_dir(run_id), ignore_errors=True)


def _execute(session: Session, run: IngestRun) -> None:
    dataset = session.get(SourceDataset, run.dataset_id)
    assert dataset is not None
    options = prepare_options(dataset, IngestOptions.from_dict(run.options))
    files = _run_files(run)
    run.status, run.total, run.error = JobStatus.running, len(files), None
    run.processed = run.taken = run.refused = 0
    run.updated_at = utcnow()
    session.add(run)
    session.commit()
    report = IngestReport()
    last_flush = time.monotonic()

    def progress(line: ReportLine) -> None:
        nonlocal last_flush
        run.processed += 1
        run.taken += int(line.taken)
        run.refused += int(not line.taken)
        run.updated_at = utcnow()
        if time.monotonic() - last_flush > REPORT_FLUSH_S:
            run.report = report.to_dict()
            last_flush = time.monotonic()
        session.add(run)
        session.commit()

    ingest_files(session, dataset, files, options, on_line=progress, report=report)
    run.report = report.to_dict()
    run.status = JobStatus.done
    run.finished_at = run.updated_at = utcnow()
    session.add(run)
    session.commit()


def recent_runs(session: Session, limit: int = 20) -> list[tuple[IngestRun, str]]:
    """The latest runs with their dataset names, newest first."""
    rows = session.exec(
        select(IngestRun, SourceDataset.name)
        .join(SourceDataset, SourceDataset.id == IngestRun.dataset_id)  # type: ignore[arg-type]
        .order_by(col(IngestRun.id).desc())
        .limit(limit)
    ).all()
    return [(run, name) for run, name in rows]


def report_of(run: IngestRun) -> IngestReport:
    """The run's report as kept in its row (complete once the run is done)."""
    fields = ("source", "taken", "reason_code", "message", "sha256", "width", "height")
    return IngestReport(
        lines=[
            ReportLine(**{k: line.get(k) for k in fields}, notes=tuple(line.get("notes") or ()))
            for line in run.report.get("lines", [])
        ]
    )


def is_stalled(run: IngestRun) -> bool:
    if run.status not in (JobStatus.queued, JobStatus.running):
        return False
    updated = run.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=utcnow().tzinfo)
    return (utcnow() - updated).total_seconds() > STALL_AFTER_S
