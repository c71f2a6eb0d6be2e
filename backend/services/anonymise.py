"""Data-subject requests: remove an image's pixels, keep its annotations and coordinates.

Paper, section 3.4.3: "In case of objection, we remove or anonymize the image data but retain
the annotations with its coordinates." Removing here deletes every pixel file derived from the
source image (the untouched original, the prepared PNG, each reconstruction and its bitstream)
and every cached tile of them, while the rows stay: reconstructions keep their blind names,
sizes and measures, annotations keep their boxes. The source is marked ``anonymised``, which
the IIIF resolver refuses, so its identifiers answer 404 from then on; the labeler's API answers
410 Gone with the reason, so the workspace says the image was removed and moves on, and the
image no longer counts towards a batch's progress. The original's SHA-256 stays recorded, so a
later ingest refuses the same file as a duplicate instead of bringing it back. An audit entry
records who asked for it, when, what was removed and the request reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlmodel import Session, col, select

from backend.models import (
    AuditEntry,
    BatchItem,
    CompressionJob,
    JobStatus,
    Reconstruction,
    SourceImage,
    SourceStatus,
    User,
    utcnow,
)
from backend.services.labeling import finish_complete_assignments
from backend.services.store import absolute

CANCELLED = "source image anonymised on a data-subject request"


class Evicts(Protocol):
    def evict(self, identifier: str) -> None: ...


class AnonymiseError(ValueError):
    pass


@dataclass
class AnonymiseResult:
    source_id: int
    identifiers: list[str]
    files_removed: list[str] = field(default_factory=list)
    jobs_cancelled: int = 0
    already: bool = False


def identifiers(session: Session, source: SourceImage) -> list[str]:
    """Every IIIF identifier that shows this source's pixels: the prepared source, each
    reconstruction and each difference map."""
    names = [source.prepared_sha1]
    for blind_name in session.exec(
        select(Reconstruction.blind_name)
        .where(Reconstruction.source_image_id == source.id)
        .order_by(col(Reconstruction.id))
    ).all():
        names += [blind_name, f"{blind_name}-diff"]
    return names


def _pixel_files(session: Session, source: SourceImage) -> list[str]:
    paths = [source.original_path, source.prepared_path]
    for png, bitstream in session.exec(
        select(Reconstruction.png_path, Reconstruction.bitstream_path).where(
            Reconstruction.source_image_id == source.id
        )
    ).all():
        paths.append(png)
        if bitstream:
            paths.append(bitstream)
    return paths


def _batches_holding(session: Session, source_id: int) -> list[int]:
    return list(
        session.exec(
            select(BatchItem.batch_id)
            .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
            .where(Reconstruction.source_image_id == source_id)
            .distinct()
        ).all()
    )


def _remove(relpaths: list[str]) -> list[str]:
    removed: list[str] = []
    for relpath in relpaths:
        try:
            path: Path = absolute(relpath)
        except ValueError:
            continue
        if path.exists():
            path.unlink()
            removed.append(relpath)
    return removed


def anonymise_source(
    session: Session,
    source_id: int,
    *,
    actor_id: int | None,
    reference: str,
    tiles: Evicts | None = None,
) -> AnonymiseResult:
    """Remove the pixels of source ``source_id`` and everything made from it.

    The status change is committed first, so the image service refuses the identifiers even
    while files are being deleted; running it again finishes an interrupted removal.
    """
    source = session.get(SourceImage, source_id)
    if source is None:
        raise AnonymiseError(f"no source image #{source_id}")
    reference = reference.strip()
    if not reference:
        raise AnonymiseError("give the request's reference (who asked, ticket or letter)")
    already = source.status == SourceStatus.anonymised
    names = identifiers(session, source)
    files = _pixel_files(session, source)
    result = AnonymiseResult(source_id, names, already=already)
    if not already:
        jobs = session.exec(
            select(CompressionJob).where(
                CompressionJob.source_image_id == source_id,
                col(CompressionJob.status).in_([JobStatus.queued, JobStatus.failed]),
            )
        ).all()
        for job in jobs:
            job.status = JobStatus.failed
            job.error = CANCELLED
            job.updated_at = utcnow()
            session.add(job)
        result.jobs_cancelled = len(jobs)
        source.status = SourceStatus.anonymised
        session.add(source)
        session.flush()
        # A labeler whose only open image was this one has now finished her batch.
        finish_complete_assignments(session, _batches_holding(session, source_id))
        session.commit()
    result.files_removed = _remove(files)
    for name in names:
        if tiles is not None:
            tiles.evict(name)
    if not already or result.files_removed:
        session.add(
            AuditEntry(
                actor_id=actor_id,
                action="anonymise_source",
                target=f"source:{source_id}",
                detail={
                    "reference": reference[:500],
                    "identifiers": names,
                    "files_removed": result.files_removed,
                    "jobs_cancelled": result.jobs_cancelled,
                    "repeat": already,
                },
            )
        )
        session.commit()
    return result


def history(session: Session, source_id: int) -> list[tuple[AuditEntry, str]]:
    """The source's audit entries, newest first, with the name of who acted."""
    rows = session.exec(
        select(AuditEntry, User.username)
        .join(User, User.id == AuditEntry.actor_id, isouter=True)  # type: ignore[arg-type]
        .where(AuditEntry.target == f"source:{source_id}")
        .order_by(col(AuditEntry.at).desc())
    ).all()
    return [(entry, name or "?") for entry, name in rows]
