"""What each worker reported it can run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import utcnow


class WorkerReport(SQLModel, table=True):
    """What one worker said about itself when it last reported: its queues, device and versions.

    The web host has no GPU and no weights, so it cannot know which codecs can run; each worker
    writes this at start and then every ``worker_report_interval_s``. ``stopped_at`` is set by a
    worker that stops gracefully; one killed simply stops reporting.
    """

    id: int | None = Field(default=None, primary_key=True)
    worker: str = Field(unique=True, max_length=255)  # Celery's node name, e.g. gpu0@host1
    queues: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    device: str = Field(default="", max_length=64)
    versions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    started_at: datetime = Field(default_factory=utcnow)
    reported_at: datetime = Field(default_factory=utcnow, index=True)
    stopped_at: datetime | None = None


class WorkerCodec(SQLModel, table=True):
    """One codec as one worker reported it: whether it can run there, and what is missing if
    not (weights, a program, a Python package)."""

    __table_args__ = (UniqueConstraint("report_id", "codec_id"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="workerreport.id", index=True, ondelete="CASCADE")
    codec_id: str = Field(max_length=2, index=True)
    name: str = Field(max_length=255)
    family: str = Field(default="", max_length=64)
    paper: str = Field(default="", max_length=8)
    low: str = Field(default="", max_length=128)
    high: str = Field(default="", max_length=128)
    available: bool = False
    missing: str = ""
