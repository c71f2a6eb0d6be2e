"""The data model: one family of SQLModel classes per entity, one module per part of the method.

Tables follow the paper's method (section 3 and appendix 1.3): source images are prepared and
compressed into blind-named reconstructions, which are cut into bulks and batches and assigned to
labelers, who draw annotations (tight boxes) and write one review record per image.
``from backend.models import X`` is the one way in; the modules are:

- :mod:`.base`: enums and column helpers shared by the tables;
- :mod:`.accounts`: users, API tokens, login sessions;
- :mod:`.sources`: datasets, source images, ingest runs, reconstructions, compression jobs;
- :mod:`.labeling`: plans, bulks, batches, assignments, annotations, reviews;
- :mod:`.studies`: prescreen votes, agreement studies, the audit log;
- :mod:`.workers`: what each worker reported it can run.
"""

from backend.models.accounts import (
    ApiToken,
    LoginSession,
    User,
    UserPublic,
)
from backend.models.base import (
    AssignmentStatus,
    JobStatus,
    MultiType,
    PrescreenRating,
    RateSetting,
    Role,
    SourceStatus,
    new_public_id,
    utcnow,
)
from backend.models.labeling import (
    Annotation,
    AnnotationRevision,
    Assignment,
    Batch,
    BatchItem,
    Bulk,
    Plan,
    Review,
    paper_annotation_id,
)
from backend.models.sources import (
    CompressionJob,
    IngestFile,
    IngestRun,
    Reconstruction,
    SourceDataset,
    SourceImage,
)
from backend.models.studies import (
    AgreementRun,
    AgreementStudy,
    AuditEntry,
    PrescreenVote,
)
from backend.models.workers import (
    WorkerCodec,
    WorkerReport,
)

__all__ = [
    "AgreementRun",
    "AgreementStudy",
    "Annotation",
    "AnnotationRevision",
    "ApiToken",
    "Assignment",
    "AssignmentStatus",
    "AuditEntry",
    "Batch",
    "BatchItem",
    "Bulk",
    "CompressionJob",
    "IngestFile",
    "IngestRun",
    "JobStatus",
    "LoginSession",
    "MultiType",
    "PrescreenRating",
    "PrescreenVote",
    "Reconstruction",
    "Review",
    "Role",
    "RateSetting",
    "SourceDataset",
    "SourceImage",
    "SourceStatus",
    "Plan",
    "User",
    "UserPublic",
    "WorkerCodec",
    "WorkerReport",
    "new_public_id",
    "paper_annotation_id",
    "utcnow",
]
