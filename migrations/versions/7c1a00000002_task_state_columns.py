"""ingest as a task, job heartbeats, metrics_error column (placeholder)

Revision ID: 7c1a00000002
Revises: 7c1a00000001
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "7c1a00000002"
down_revision: str | None = "7c1a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
