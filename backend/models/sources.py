"""Source images from ingest to reconstructions and the jobs that make them (paper, section 3.1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import JobStatus, RateSetting, SourceStatus, enum_column, utcnow


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
        default=SourceStatus.prepared, sa_column=enum_column(SourceStatus, nullable=False)
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
        default=JobStatus.queued, sa_column=enum_column(JobStatus, nullable=False)
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
    setting: RateSetting = Field(sa_column=enum_column(RateSetting, nullable=False))
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
        return f"{self.codec_id}{'L' if self.setting == RateSetting.low else 'H'}"


class CompressionJob(SQLModel, table=True):
    """One (source image, codec, setting) to compress; idempotent by its unique key."""

    __table_args__ = (UniqueConstraint("source_image_id", "codec_id", "setting"),)

    id: int | None = Field(default=None, primary_key=True)
    source_image_id: int = Field(foreign_key="sourceimage.id", index=True)
    codec_id: str = Field(max_length=2)
    setting: RateSetting = Field(sa_column=enum_column(RateSetting, nullable=False))
    status: JobStatus = Field(
        default=JobStatus.queued, sa_column=enum_column(JobStatus, nullable=False)
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
