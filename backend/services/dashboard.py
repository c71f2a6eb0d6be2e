"""Annotation progress per bulk, batch and labeler, and the progress file.

Paper, appendix 2.1: "A progress file listed all batches and their annotation status." At the
paper's size (12,504 reconstructions in 8 bulks of 64 batches, about 18,000 annotations) the
numbers come from four grouped queries (items per batch, assignments, annotations per assignment,
finished reviews and flags per assignment), never from a query per row, so the page stays
fast while labelers work.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlmodel import Session, col

from backend.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Batch,
    BatchItem,
    Bulk,
    Review,
    User,
)

UNASSIGNED = "unassigned"
STATUSES = (UNASSIGNED, "assigned", "in_progress", "done")


@dataclass(slots=True)
class BatchRow:
    """One batch and its labeler (a batch with several labelers gives one row per labeler)."""

    batch_id: int
    batch_name: str
    batch_number: int
    bulk_id: int | None
    bulk_number: int | None
    items: int
    locked: bool
    assignment_id: int | None = None
    labeler_id: int | None = None
    labeler: str | None = None
    status: str = UNASSIGNED
    images_done: int = 0
    annotations: int = 0
    multi: int = 0
    active_seconds: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def started(self) -> bool:
        return self.started_at is not None or self.annotations > 0 or self.images_done > 0


@dataclass(slots=True)
class Totals:
    """Sums over a group of batch rows (a bulk, a labeler, everything)."""

    key: str
    batches: int = 0
    images: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    locked: int = 0
    images_done: int = 0
    annotations: int = 0
    active_seconds: float = 0.0

    def add(self, row: BatchRow) -> None:
        self.batches += 1
        self.images += row.items
        self.by_status[row.status] += 1
        self.locked += int(row.locked)
        self.images_done += row.images_done
        self.annotations += row.annotations
        self.active_seconds += row.active_seconds

    @property
    def percent_done(self) -> float:
        return 100.0 * self.images_done / self.images if self.images else 0.0


def batch_rows(session: Session, bulk_id: int | None = None) -> list[BatchRow]:
    """Every batch (optionally of one bulk) with its labeler and counts."""
    batch_query = (
        select(
            col(Batch.id),
            col(Batch.name),
            col(Batch.number),
            col(Batch.locked),
            col(Bulk.id),
            col(Bulk.number),
            func.count(col(BatchItem.id)),
        )
        .join(Bulk, col(Bulk.id) == col(Batch.bulk_id), isouter=True)
        .join(BatchItem, col(BatchItem.batch_id) == col(Batch.id), isouter=True)
        .group_by(col(Batch.id), col(Bulk.id))
        .order_by(col(Bulk.number), col(Batch.number), col(Batch.id))
    )
    assignment_query = select(
        col(Assignment.batch_id),
        col(Assignment.id),
        col(Assignment.labeler_id),
        col(User.username),
        col(Assignment.status),
        col(Assignment.active_seconds),
        col(Assignment.started_at),
        col(Assignment.finished_at),
    ).join(User, col(User.id) == col(Assignment.labeler_id))
    if bulk_id is not None:
        batch_query = batch_query.where(col(Batch.bulk_id) == bulk_id)
        assignment_query = assignment_query.join(
            Batch, col(Batch.id) == col(Assignment.batch_id)
        ).where(col(Batch.bulk_id) == bulk_id)
    held_by: dict[int, list[tuple[Any, ...]]] = {}
    for row in session.execute(assignment_query).all():
        held_by.setdefault(row[0], []).append(tuple(row))
    annotation_counts = _counts(session, _annotation_counts(), bulk_id)
    reviews = _counts(session, _review_counts(), bulk_id)
    rows: list[BatchRow] = []
    for batch_id, name, number, locked, b_id, b_number, n_items in session.execute(
        batch_query
    ).all():
        base: dict[str, Any] = dict(
            batch_id=batch_id,
            batch_name=name,
            batch_number=number,
            bulk_id=b_id,
            bulk_number=b_number,
            items=int(n_items),
            locked=bool(locked),
        )
        held = held_by.get(batch_id, [])
        if not held:
            rows.append(BatchRow(**base))
        for _, assignment_id, labeler_id, username, status, active, started, finished in held:
            key = (batch_id, labeler_id)
            done, multi = reviews.get(key, (0, 0))
            rows.append(
                BatchRow(
                    **base,
                    assignment_id=assignment_id,
                    labeler_id=labeler_id,
                    labeler=username,
                    status=AssignmentStatus(status).value,
                    images_done=done,
                    annotations=annotation_counts.get(key, (0,))[0],
                    multi=multi,
                    active_seconds=float(active or 0.0),
                    started_at=started,
                    finished_at=finished,
                )
            )
    return rows


def _annotation_counts() -> Select:
    """Live annotations each assignment's labeler drew on the assignment's items."""
    return (
        select(col(Assignment.batch_id), col(Assignment.labeler_id), func.count(col(Annotation.id)))
        .join(BatchItem, col(BatchItem.batch_id) == col(Assignment.batch_id))
        .join(
            Annotation,
            and_(
                col(Annotation.reconstruction_id) == col(BatchItem.reconstruction_id),
                col(Annotation.labeler_id) == col(Assignment.labeler_id),
            ),
        )
        .where(col(Annotation.deleted).is_(False))
        .group_by(col(Assignment.batch_id), col(Assignment.labeler_id))
    )


def _review_counts() -> Select:
    """Finished reviews and multi-miscompression flags per assignment, in one pass."""
    return (
        select(
            col(Assignment.batch_id),
            col(Assignment.labeler_id),
            func.sum(case((col(Review.done).is_(True), 1), else_=0)),
            func.sum(case((col(Review.multi).is_(True), 1), else_=0)),
        )
        .join(BatchItem, col(BatchItem.batch_id) == col(Assignment.batch_id))
        .join(
            Review,
            and_(
                col(Review.reconstruction_id) == col(BatchItem.reconstruction_id),
                col(Review.labeler_id) == col(Assignment.labeler_id),
            ),
        )
        .group_by(col(Assignment.batch_id), col(Assignment.labeler_id))
    )


def _counts(
    session: Session, query: Select, bulk_id: int | None
) -> dict[tuple[int, int], tuple[int, ...]]:
    """Run a per-(batch, labeler) count query, optionally for one bulk only."""
    if bulk_id is not None:
        query = query.join(Batch, col(Batch.id) == col(Assignment.batch_id)).where(
            col(Batch.bulk_id) == bulk_id
        )
    return {
        (int(row[0]), int(row[1])): tuple(int(n or 0) for n in row[2:])
        for row in session.execute(query).all()
    }


def totals(rows: Iterable[BatchRow], key: str) -> Totals:
    out = Totals(key)
    for row in rows:
        out.add(row)
    return out


def per_bulk(rows: Iterable[BatchRow]) -> list[Totals]:
    groups: dict[int | None, Totals] = {}
    for row in rows:
        label = f"Bulk {row.bulk_number}" if row.bulk_number is not None else "outside bulks"
        groups.setdefault(row.bulk_number, Totals(label)).add(row)
    return [groups[k] for k in sorted(groups, key=lambda n: (n is None, n or 0))]


def per_labeler(rows: Iterable[BatchRow]) -> list[Totals]:
    groups: dict[str, Totals] = {}
    for row in rows:
        if row.labeler is not None:
            groups.setdefault(row.labeler, Totals(row.labeler)).add(row)
    return [groups[k] for k in sorted(groups)]


@dataclass(frozen=True, slots=True)
class Dashboard:
    rows: list[BatchRow]
    bulks: list[Totals]
    labelers: list[Totals]
    total: Totals


def dashboard(session: Session, bulk_id: int | None = None) -> Dashboard:
    rows = batch_rows(session, bulk_id)
    return Dashboard(rows, per_bulk(rows), per_labeler(rows), totals(rows, "all"))


CSV_COLUMNS = (
    "bulk",
    "batch",
    "batch_id",
    "labeler",
    "status",
    "locked",
    "images",
    "images_done",
    "annotations",
    "multi_flags",
    "started_at",
    "finished_at",
    "active_minutes",
)


def progress_csv(rows: Iterable[BatchRow]) -> str:
    """The progress file: one line per batch and labeler with its annotation status."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                "" if row.bulk_number is None else row.bulk_number,
                row.batch_name,
                row.batch_id,
                row.labeler or "",
                row.status,
                "yes" if row.locked else "no",
                row.items,
                row.images_done,
                row.annotations,
                row.multi,
                row.started_at.isoformat() if row.started_at else "",
                row.finished_at.isoformat() if row.finished_at else "",
                f"{row.active_seconds / 60:.1f}",
            ]
        )
    return buffer.getvalue()
