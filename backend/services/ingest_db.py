"""Ingest into the platform: originals kept unchanged, prepared PNGs stored, one row per image.

Paper, section 3.1: sources were centre-cropped to multiples of 16 pixels, downscaled to at most
2304 pixels per side (RAISE first to 40 %), and images without three channels or that were
corrupted were removed. :mod:`backend.ingest` decides and prepares; this module stores what was
taken through :func:`backend.services.images.register_source` and keeps a report line for every
file. A file is either stored whole (original, prepared PNG and row) or not at all, and a
second ingest of the same files adds nothing: the SHA-256 of the original bytes identifies it.

Ingests started from the admin pages run as background tasks: see
:mod:`backend.services.ingest_runs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from backend.core.config import get_settings
from backend.ingest.prepare import PrepareOptions, PrepareOutcome, prepare_with_options
from backend.ingest.report import IngestReport, ReportLine, line_for
from backend.ingest.scan import scan_folder
from backend.ingest.validate import Rejection, RejectReason, SourceFormat, read_source
from backend.models import SourceDataset, SourceImage
from backend.services.images import get_or_create_dataset, register_source
from backend.services.store import absolute, sha1_bytes

DATASET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,127}$")
_SUFFIX = {SourceFormat.PNG: ".png", SourceFormat.JPEG: ".jpg", SourceFormat.TIFF: ".tif"}
# Rows to commit with a taken file's source row, made from its report line.
RecordLine = Callable[[ReportLine], Sequence[SQLModel]]


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
    session: Session,
    dataset: SourceDataset,
    name: str,
    raw: bytes,
    outcome: PrepareOutcome,
    record: RecordLine | None = None,
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
            with_rows=record(line_for(name, outcome)) if record is not None else (),
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
    record: RecordLine | None = None,
) -> PrepareOutcome | Rejection:
    """Check, prepare and store one file; ``seen`` (hashes taken so far) grows when stored.
    ``record`` makes the rows committed with a taken file's source row."""
    raw = read_source(source, options.max_bytes)
    if isinstance(raw, Rejection):
        return raw
    outcome = prepare_with_options(raw, options, seen)
    if isinstance(outcome, Rejection):
        return outcome
    stored = _store(session, dataset, name, raw, outcome, record)
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
