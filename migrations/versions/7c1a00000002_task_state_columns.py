"""ingest as a task, job heartbeats, metrics_error column

Ingest runs and compression jobs get ``claimed_by`` and ``heartbeat_at`` (the claim that
replaces the advisory lock per job, and the stale heartbeat that shows a run as interrupted);
an ingest run's report lines move from its ``report`` JSON into one ``ingestfile`` row per file
(what a resumed run skips); ``reconstruction.params["metrics_error"]`` becomes a column.

Revision ID: 7c1a00000002
Revises: 7c1a00000001
Create Date: 2026-12-08 01:30:00
"""

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "7c1a00000002"
down_revision: str | None = "7c1a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINE_FIELDS = ("source", "taken", "reason_code", "message", "sha256", "width", "height")


def _json(value: Any) -> Any:
    """A JSON column's value as Python (SQLite hands some drivers' values back as text)."""
    return json.loads(value) if isinstance(value, str) else (value or {})


def _with_json(sql: str) -> sa.TextClause:
    """``sql`` with its ``:p`` bound as a JSON value."""
    return sa.text(sql).bindparams(sa.bindparam("p", type_=sa.JSON))


def _claim_columns(table: str) -> None:
    with op.batch_alter_table(table, recreate="never") as batch:
        batch.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch.add_column(
            sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def upgrade() -> None:
    _claim_columns("compressionjob")
    _claim_columns("ingestrun")
    ingestfile = op.create_table(
        "ingestfile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entry", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("taken", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["ingestrun.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "entry"),
    )
    op.create_index(op.f("ix_ingestfile_run_id"), "ingestfile", ["run_id"], unique=False)
    connection = op.get_bind()
    runs = connection.execute(sa.text("SELECT id, kind, report FROM ingestrun")).all()
    rows = []
    for run_id, kind, report in runs:
        for index, line in enumerate(_json(report).get("lines", [])):
            # Uploads were staged as 00000, 00001, … in the order they were processed.
            entry = f"{index:05d}" if kind == "upload" else str(line.get("source", index))
            rows.append(
                {
                    "run_id": run_id,
                    "entry": entry,
                    **{key: line.get(key) for key in _LINE_FIELDS},
                    "message": line.get("message") or "",
                    "notes": list(line.get("notes") or ()),
                }
            )
    if rows:
        op.bulk_insert(ingestfile, rows)
    with op.batch_alter_table("ingestrun", recreate="never") as batch:
        batch.drop_column("report")

    with op.batch_alter_table("reconstruction", recreate="never") as batch:
        batch.add_column(
            sa.Column("metrics_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    for recon_id, params in connection.execute(
        sa.text("SELECT id, params FROM reconstruction")
    ).all():
        params = _json(params)
        if "metrics_error" in params:
            error = params.pop("metrics_error")
            connection.execute(
                _with_json(
                    "UPDATE reconstruction SET metrics_error = :e, params = :p WHERE id = :i"
                ),
                {"e": error, "p": params, "i": recon_id},
            )


def downgrade() -> None:
    connection = op.get_bind()
    for recon_id, params, error in connection.execute(
        sa.text("SELECT id, params, metrics_error FROM reconstruction")
    ).all():
        if error is not None:
            connection.execute(
                _with_json("UPDATE reconstruction SET params = :p WHERE id = :i"),
                {"p": {**_json(params), "metrics_error": error}, "i": recon_id},
            )
    with op.batch_alter_table("reconstruction", recreate="never") as batch:
        batch.drop_column("metrics_error")

    with op.batch_alter_table("ingestrun", recreate="never") as batch:
        batch.add_column(sa.Column("report", sa.JSON(), nullable=True))
    lines: dict[int, list[dict[str, Any]]] = {}
    for row in connection.execute(
        sa.text(
            "SELECT run_id, source, taken, reason_code, message, sha256, width, height, notes "
            "FROM ingestfile ORDER BY id"
        )
    ).mappings():
        line = {key: row[key] for key in _LINE_FIELDS}
        line["taken"] = bool(line["taken"])
        line["notes"] = list(_json(row["notes"]) or [])
        line["status"] = "taken" if line["taken"] else "refused"
        lines.setdefault(row["run_id"], []).append(line)
    for run_id, run_lines in lines.items():
        taken = [line for line in run_lines if line["taken"]]
        reasons = Counter(line["reason_code"] for line in run_lines if not line["taken"])
        counts = {
            "considered": len(run_lines),
            "taken": len(taken),
            "refused": len(run_lines) - len(taken),
            "converted": sum(
                1 for line in taken if any(n.startswith("converted:") for n in line["notes"])
            ),
            "refused_by_reason": {code: reasons[code] for code in sorted(reasons, key=str)},
        }
        connection.execute(
            _with_json("UPDATE ingestrun SET report = :p WHERE id = :i"),
            {"p": {"counts": counts, "lines": run_lines}, "i": run_id},
        )
    op.drop_index(op.f("ix_ingestfile_run_id"), table_name="ingestfile")
    op.drop_table("ingestfile")
    for table in ("ingestrun", "compressionjob"):
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("heartbeat_at")
            batch.drop_column("claimed_by")
