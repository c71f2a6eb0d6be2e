"""Enums and column helpers shared by the tables."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy import Enum as SAEnum


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """A neutral identifier: 16 random hex characters that reveal nothing about the row."""
    return secrets.token_hex(8)


def enum_column(enum_cls: type[enum.Enum], **kw: Any) -> Column[Any]:
    # Stored as plain strings (VARCHAR + CHECK) so adding a member needs no PostgreSQL type change.
    return Column(SAEnum(enum_cls, native_enum=False, length=32, values_callable=enum_values), **kw)


def enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    return [m.value for m in enum_cls]


class Role(enum.StrEnum):
    admin = "admin"
    labeler = "labeler"
    researcher = "researcher"


class RateSetting(enum.StrEnum):
    """The paper's two compression settings per codec, near 0.25 (low) and 0.75 (high) bpp
    (section 3.1); columns and the API call it ``setting``."""

    low = "low"
    high = "high"


class AssignmentStatus(enum.StrEnum):
    assigned = "assigned"
    in_progress = "in_progress"
    done = "done"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class SourceStatus(enum.StrEnum):
    prepared = "prepared"
    excluded = "excluded"  # removed by prescreening
    anonymised = "anonymised"  # pixels removed on a data-subject request


class MultiType(enum.StrEnum):
    """Types of multi-miscompressions (paper, appendix 2.2.2)."""

    color = "color"
    merging = "merging"
    irregular_blurring = "irregular_blurring"
    texture = "texture"
    reshaping = "reshaping"
    noteworthy = "noteworthy"
    to_discuss = "to_discuss"


class PrescreenRating(enum.StrEnum):
    include = "include"
    borderline = "borderline"
    exclude = "exclude"
