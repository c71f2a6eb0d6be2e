"""Prescreening votes, agreement studies (paper, section 3.2.4) and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import PrescreenRating, enum_column, utcnow


class PrescreenVote(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("source_image_id", "rater_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(foreign_key="sourceimage.id", index=True)
    rater_id: int = Field(foreign_key="user.id", index=True)
    rating: PrescreenRating = Field(sa_column=enum_column(PrescreenRating, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class AgreementStudy(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    batch_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    labeler_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class AgreementRun(SQLModel, table=True):
    """One analysis of a study; runs are kept, never overwritten."""

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="agreementstudy.id", index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    result: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=64)
    target: str = Field(max_length=256)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    at: datetime = Field(default_factory=utcnow)
