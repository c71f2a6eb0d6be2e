"""worker capability reports: which codecs each worker can run, as it last said

Revision ID: 7c1a00000001
Revises: 361aab6012f6
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7c1a00000001"
down_revision: str | None = "361aab6012f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workerreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=True),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("stopped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("worker"),
    )
    op.create_index(
        op.f("ix_workerreport_reported_at"), "workerreport", ["reported_at"], unique=False
    )
    op.create_table(
        "workercodec",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("codec_id", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("family", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("paper", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("low", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("high", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("missing", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["workerreport.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "codec_id"),
    )
    op.create_index(op.f("ix_workercodec_codec_id"), "workercodec", ["codec_id"], unique=False)
    op.create_index(op.f("ix_workercodec_report_id"), "workercodec", ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workercodec_report_id"), table_name="workercodec")
    op.drop_index(op.f("ix_workercodec_codec_id"), table_name="workercodec")
    op.drop_table("workercodec")
    op.drop_index(op.f("ix_workerreport_reported_at"), table_name="workerreport")
    op.drop_table("workerreport")
