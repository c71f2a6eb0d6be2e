"""The data model: one family of SQLModel classes per entity.

Tables follow the paper's method (section 3 and appendix 1.3): source images are prepared and
compressed into blind-named reconstructions, which are cut into bulks and batches and assigned to
labelers, who draw boxes (annotations) and write one review record per image.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """A neutral identifier: 16 random hex characters that reveal nothing about the row."""
    return secrets.token_hex(8)


def _enum_column(enum_cls: type[enum.Enum], **kw: Any) -> Column[Any]:
    # Stored as plain strings (VARCHAR + CHECK) so adding a member needs no PostgreSQL type change.
    return Column(SAEnum(enum_cls, native_enum=False, length=32, values_callable=_values), **kw)


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    return [m.value for m in enum_cls]


class Role(enum.StrEnum):
    admin = "admin"
    labeler = "labeler"
    researcher = "researcher"


class Setting(enum.StrEnum):
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


# --- users and credentials -------------------------------------------------------------------


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    password_hash: str = Field(max_length=256)
    role: Role = Field(sa_column=_enum_column(Role, nullable=False))
    is_active: bool = True
    is_demo: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class UserPublic(SQLModel):
    id: int
    username: str
    role: Role


class ApiToken(SQLModel, table=True):
    """A researcher's bearer token; only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    name: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False


class LoginSession(SQLModel, table=True):
    """A browser session; the cookie carries the random key, the CSRF token is kept here."""

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked: bool = False


# --- source images and reconstructions -----------------------------------------------------


class SourceDataset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=128)
    scale: float | None = None  # per-dataset scale applied before cropping (RAISE: 0.4)
    created_at: datetime = Field(default_factory=utcnow)


class SourceImage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="sourcedataset.id", index=True)
    original_name: str = Field(max_length=512)  # never shown to labelers
    original_path: str = Field(max_length=1024)
    original_sha256: str = Field(unique=True, max_length=64)
    # SHA-1 of the prepared PNG: the neutral IIIF identifier of the original.
    prepared_sha1: str = Field(unique=True, index=True, max_length=40)
    prepared_path: str = Field(max_length=1024)
    width: int
    height: int
    status: SourceStatus = Field(
        default=SourceStatus.prepared, sa_column=_enum_column(SourceStatus, nullable=False)
    )
    notes: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class IngestRun(SQLModel, table=True):
    """One ingest of a server folder or of uploaded files, run as a background task.

    Keeps the counts while it runs (for the progress widget) and one :class:`IngestFile` per
    file done (paper, section 3.1: which files were taken and why the others were refused), so
    a run whose worker stopped resumes where it was. ``claimed_by`` and ``heartbeat_at`` say
    which worker runs it and when it last said so: a stale heartbeat is a run interrupted.
    """

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="sourcedataset.id", index=True)
    kind: str = Field(max_length=16)  # "folder" or "upload"
    source: str = Field(max_length=1024)
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: JobStatus = Field(
        default=JobStatus.queued, sa_column=_enum_column(JobStatus, nullable=False)
    )
    total: int = 0
    processed: int = 0
    taken: int = 0
    refused: int = 0
    error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=128)
    heartbeat_at: datetime | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class IngestFile(SQLModel, table=True):
    """One file of an ingest run, taken or refused: a line of the run's report.

    ``entry`` names the file within its run (its path under the folder, or its staged name for
    an upload) and is unique per run, so a resumed run skips the files it has done and never
    writes a line twice. A taken file's line is committed with its source image row.
    """

    __table_args__ = (UniqueConstraint("run_id", "entry"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="ingestrun.id", index=True)
    entry: str = Field(max_length=1024)
    source: str = Field(max_length=1024)  # the name in the report
    taken: bool
    reason_code: str | None = Field(default=None, max_length=64)
    message: str = ""
    sha256: str | None = Field(default=None, max_length=64)
    width: int | None = None
    height: int | None = None
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class Reconstruction(SQLModel, table=True):
    """One codec's output for one source image at one setting.

    ``blind_name`` is the SHA-1 of the reconstruction PNG's bytes (paper, appendix 1.3); it is
    the only name labelers see.
    """

    __table_args__ = (UniqueConstraint("source_image_id", "codec_id", "setting"),)

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(foreign_key="sourceimage.id", index=True)
    codec_id: str = Field(max_length=2, index=True)
    setting: Setting = Field(sa_column=_enum_column(Setting, nullable=False))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    blind_name: str = Field(unique=True, index=True, max_length=40)
    png_path: str = Field(max_length=1024)
    bitstream_path: str | None = Field(default=None, max_length=1024)
    width: int
    height: int
    bitstream_bytes: int | None = None
    bpp: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    ms_ssim: float | None = None
    encode_s: float | None = None
    decode_s: float | None = None
    # Why the cpu queue could not measure it (None once measured, or not tried yet).
    metrics_error: str | None = None
    device: str | None = Field(default=None, max_length=64)
    versions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # What made it (docs/bitstreams.md): float decoders differ across CPUs and GPUs, so a
    # researcher decoding its bitstream elsewhere needs the machine and the exact weights. The
    # CPU or GPU model and the weight file's SHA-256 are columns to group by; the rest (CPU
    # features, threads, versions, codec setting) is one JSON record, read and not queried.
    hardware: str | None = Field(default=None, max_length=255)
    weights_sha256: str | None = Field(default=None, max_length=64)
    provenance: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def model_id(self) -> str:
        """The paper's model id: two-digit codec number and L/H, e.g. ``06L``."""
        return f"{self.codec_id}{'L' if self.setting == Setting.low else 'H'}"


class CompressionJob(SQLModel, table=True):
    """One (source image, codec, setting) to compress; idempotent by its unique key."""

    __table_args__ = (UniqueConstraint("source_image_id", "codec_id", "setting"),)

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(foreign_key="sourceimage.id", index=True)
    codec_id: str = Field(max_length=2)
    setting: Setting = Field(sa_column=_enum_column(Setting, nullable=False))
    status: JobStatus = Field(
        default=JobStatus.queued, sa_column=_enum_column(JobStatus, nullable=False)
    )
    error: str | None = None
    attempts: int = 0
    # The worker coding it and when it last said so (a compare-and-set claim; see
    # backend.services.claims): a second delivery leaves a fresh claim to its worker.
    claimed_by: str | None = Field(default=None, max_length=128)
    heartbeat_at: datetime | None = None
    reconstruction_id: int | None = Field(default=None, foreign_key="reconstruction.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# --- study plan, bulks, batches, assignments -----------------------------------------------


class StudyPlan(SQLModel, table=True):
    """A saved, versioned plan: halves, codec sets, bulk and batch sizes, seed."""

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
        sa_column=_enum_column(AssignmentStatus, nullable=False),
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


# --- prescreening, agreement studies, audit ------------------------------------------------


class PrescreenVote(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("source_image_id", "rater_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(foreign_key="sourceimage.id", index=True)
    rater_id: int = Field(foreign_key="user.id", index=True)
    rating: PrescreenRating = Field(sa_column=_enum_column(PrescreenRating, nullable=False))
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


# --- workers ----------------------------------------------------------------------------------


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
