"""worker capability reports (placeholder, filled by the imports/worker-report change)

Revision ID: 7c1a00000001
Revises: 361aab6012f6
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "7c1a00000001"
down_revision: str | None = "361aab6012f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
