"""How reconstructions reach labelers, and what labelers write (paper, sections 3.1 and 3.2)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import AssignmentStatus, enum_column, new_public_id, utcnow


class Plan(SQLModel, table=True):
    """A saved, versioned plan: halves, codec sets, bulk and batch sizes, seed."""

    __tablename__ = "studyplan"  # the table's name from before the class was called Plan

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    version: int = 1
    seed: int = 0
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Bulk(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = Field(default=None, foreign_key="studyplan.id", index=True)
    number: int
    name: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class Batch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    bulk_id: int | None = Field(default=None, foreign_key="bulk.id", index=True)
    number: int
    name: str = Field(max_length=128)
    # Agreement batches ask for all instances of multi-miscompressions (paper, 3.2.4).
    annotate_all_instances: bool = False
    locked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class BatchItem(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("batch_id", "position"),
        UniqueConstraint("batch_id", "reconstruction_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    position: int
    reconstruction_id: int = Field(foreign_key="reconstruction.id", index=True)


class Assignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("batch_id", "labeler_id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="batch.id", index=True)
    labeler_id: int = Field(foreign_key="user.id", index=True)
    status: AssignmentStatus = Field(
        default=AssignmentStatus.assigned,
        sa_column=enum_column(AssignmentStatus, nullable=False),
    )
    assigned_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Seconds between consecutive actions, capped, summed: the dashboard's "time spent".
    active_seconds: float = 0.0
    last_activity_at: datetime | None = None


# --- annotations and reviews ---------------------------------------------------------------


class Annotation(SQLModel, table=True):
    """A labeler's box on a reconstruction, in reconstruction pixels.

    The row holds the current state; every state is also written to ``AnnotationRevision`` so
    that an edit or a delete never destroys the earlier version.
    """

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, unique=True, index=True, max_length=16)
    reconstruction_id: int = Field(foreign_key="reconstruction.id", index=True)
    labeler_id: int = Field(foreign_key="user.id", index=True)
    x: int
    y: int
    w: int
    h: int
    version: int = 1
    deleted: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AnnotationRevision(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("annotation_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    annotation_id: int = Field(foreign_key="annotation.id", index=True)
    version: int
    x: int
    y: int
    w: int
    h: int
    deleted: bool = False
    changed_by: int = Field(foreign_key="user.id")
    changed_at: datetime = Field(default_factory=utcnow)


def paper_annotation_id(blind_name: str, model_id: str, x: int, y: int, w: int, h: int) -> str:
    """The released id (paper, section 3 / appendix 3): ``4154727c-06L-4ffe5f30``.

    Carries the model id, so it is for the release and researchers, never for labelers.
    """
    coords = hashlib.sha1(f"{x},{y},{w},{h}".encode("ascii")).hexdigest()[:8]
    return f"{blind_name[:8]}-{model_id}-{coords}"


class Review(SQLModel, table=True):
    """Per labeler and image: done, multi-miscompression flag and types, notes."""

    __table_args__ = (UniqueConstraint("labeler_id", "reconstruction_id"),)

    id: int | None = Field(default=None, primary_key=True)
    labeler_id: int = Field(foreign_key="user.id", index=True)
    reconstruction_id: int = Field(foreign_key="reconstruction.id", index=True)
    done: bool = False
    done_at: datetime | None = None
    multi: bool = False
    multi_types: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    appearance_note: str = ""
    note: str = ""
    version: int = 0
    updated_at: datetime = Field(default_factory=utcnow)
