"""what made each reconstruction

Reconstructions get ``hardware`` (the CPU or GPU model that ran the codec), ``weights_sha256``
(the SHA-256 of the weight file that coded it) and ``provenance`` (one JSON record: device, CPU
features, threads, library versions, codec setting; docs/bitstreams.md). Rows coded before this
keep what they recorded: the weights checksum their neural codec put in ``params``, and an
empty provenance record (the machine that made them is not known).

Revision ID: 7c1a00000003
Revises: 7c1a00000002
Create Date: 2026-12-08 01:30:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7c1a00000003"
down_revision: str | None = "7c1a00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json(value: Any) -> Any:
    """A JSON column's value as Python (SQLite hands some drivers' values back as text)."""
    return json.loads(value) if isinstance(value, str) else (value or {})


def upgrade() -> None:
    with op.batch_alter_table("reconstruction", recreate="never") as batch:
        batch.add_column(
            sa.Column("hardware", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch.add_column(
            sa.Column("weights_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
    connection = op.get_bind()
    update = sa.text(
        "UPDATE reconstruction SET weights_sha256 = :w, provenance = :p WHERE id = :i"
    ).bindparams(sa.bindparam("p", type_=sa.JSON))
    for recon_id, params in connection.execute(
        sa.text("SELECT id, params FROM reconstruction")
    ).all():
        digest = _json(params).get("weights_sha256")
        connection.execute(
            update, {"w": digest if isinstance(digest, str) else None, "p": {}, "i": recon_id}
        )


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35+): a batch copy of the table would drop
    # "reconstruction" while compression jobs and boxes still point at it, which SQLite refuses
    # with foreign keys on.
    with op.batch_alter_table("reconstruction", recreate="never") as batch:
        batch.drop_column("provenance")
        batch.drop_column("weights_sha256")
        batch.drop_column("hardware")
