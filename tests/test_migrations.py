"""Migrations: data of the old shape survives upgrade, downgrade and upgrade again, and the
migrated schema is the models' schema.

A deployment upgrades a database that holds a study's rows; a migration that only creates
empty tables passes ``alembic upgrade`` and still loses data. So the round trip starts at the
revision before the chain of issue 11 (``361aab6012f6``), writes rows the way the code of that
time wrote them, and checks each step against what ``migrations/versions/7c1a0000000{1,2,3}``
say they do. It runs on a scratch database of its own: PostgreSQL when DATABASE_URL is set,
SQLite otherwise (the embedded path, where ALTER TABLE runs as batch table copies).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine, make_url

from backend.core.db import _make_engine
from backend.core.migrate import alembic_config

SERVER_URL = os.environ.get("DATABASE_URL")
BEFORE_CHAIN = "361aab6012f6"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WEIGHTS = "ab" * 32
METRICS_ERROR = "ms-ssim: the image is smaller than its five scales need"


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture()
def scratch(tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (dropped afterwards), with the app's engine settings
    (SQLite: foreign keys on, as ``sclic db upgrade`` runs them)."""
    if not SERVER_URL:
        engine = _make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    name = f"sclic_migrations_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(_psycopg(SERVER_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(_psycopg(SERVER_URL)).set(database=name)
    engine = _make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(engine: Engine, step: str, revision: str) -> None:
    """``alembic upgrade|downgrade revision`` on ``engine``, committed as one transaction."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, step)(cfg, revision)


def _tables(engine: Engine) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(engine)
    return dict(meta.tables)


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def _line(source: str, taken: bool, **rest: Any) -> dict[str, Any]:
    """A report line as ``IngestReport.to_dict`` wrote it before the chain."""
    line = {
        "source": source,
        "taken": taken,
        "reason_code": None,
        "message": "",
        "sha256": None,
        "width": None,
        "height": None,
        "notes": [],
        **rest,
    }
    line["status"] = "taken" if taken else "refused"
    return line


FOLDER_LINES = [
    _line(
        "CLIC/a.png",
        True,
        message="prepared 64×48 PNG",
        sha256="1" * 64,
        width=64,
        height=48,
        notes=["converted: RGBA to RGB"],
    ),
    _line("CLIC/b.jpg", False, reason_code="too_small", message="under 256 px", sha256="2" * 64),
    _line("CLIC/c.png", False, reason_code="duplicate", message="same as a.png", sha256="1" * 64),
]
UPLOAD_LINES = [
    _line("upload-1.png", True, message="prepared 32×32 PNG", sha256="3" * 64, width=32, height=32),
    _line("upload-2.txt", False, reason_code="not_an_image", message="not an image"),
]


def _report(lines: list[dict[str, Any]]) -> dict[str, Any]:
    taken = [line for line in lines if line["taken"]]
    reasons: dict[str, int] = {}
    for line in lines:
        if not line["taken"]:
            reasons[line["reason_code"]] = reasons.get(line["reason_code"], 0) + 1
    counts = {
        "considered": len(lines),
        "taken": len(taken),
        "refused": len(lines) - len(taken),
        "converted": sum(1 for t in taken if any(n.startswith("converted:") for n in t["notes"])),
        "refused_by_reason": dict(sorted(reasons.items())),
    }
    return {"counts": counts, "lines": lines}


OLD_PARAMS = {
    1: {"quality": 3, "weights_sha256": WEIGHTS, "metrics_error": METRICS_ERROR},
    2: {"quality": 6},
}


def _insert_old_rows(engine: Engine) -> None:
    """A dataset, a source, two reconstructions, two ingest runs and a compression job, as the
    code at ``361aab6012f6`` wrote them."""
    t = _tables(engine)
    with engine.begin() as conn:
        conn.execute(t["sourcedataset"].insert(), [{"id": 1, "name": "CLIC", "created_at": NOW}])
        conn.execute(
            t["sourceimage"].insert(),
            [
                {
                    "id": 1,
                    "dataset_id": 1,
                    "original_name": "a.png",
                    "original_path": "originals/a.png",
                    "original_sha256": "1" * 64,
                    "prepared_sha1": "f" * 40,
                    "prepared_path": "prepared/a.png",
                    "width": 64,
                    "height": 48,
                    "status": "prepared",
                    "notes": "",
                    "created_at": NOW,
                }
            ],
        )
        conn.execute(
            t["reconstruction"].insert(),
            [
                {
                    "id": recon_id,
                    "source_image_id": 1,
                    "codec_id": "01",
                    "setting": setting,
                    "params": OLD_PARAMS[recon_id],
                    "blind_name": f"blind{recon_id}",
                    "png_path": f"recon/{recon_id}.png",
                    "width": 64,
                    "height": 48,
                    "device": "cpu",
                    "versions": {"torch": "2.5.1"},
                    "created_at": NOW,
                }
                for recon_id, setting in ((1, "low"), (2, "high"))
            ],
        )
        conn.execute(
            t["compressionjob"].insert(),
            [
                {
                    "id": 1,
                    "source_image_id": 1,
                    "codec_id": "01",
                    "setting": "low",
                    "status": "done",
                    "error": None,
                    "attempts": 1,
                    "reconstruction_id": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        conn.execute(
            t["ingestrun"].insert(),
            [
                {
                    "id": run_id,
                    "dataset_id": 1,
                    "kind": kind,
                    "source": source,
                    "options": {},
                    "status": "done",
                    "total": len(lines),
                    "processed": len(lines),
                    "taken": sum(1 for line in lines if line["taken"]),
                    "refused": sum(1 for line in lines if not line["taken"]),
                    "report": _report(lines),
                    "created_at": NOW,
                    "updated_at": NOW,
                    "finished_at": NOW,
                }
                for run_id, kind, source, lines in (
                    (1, "folder", "/data/CLIC", FOLDER_LINES),
                    (2, "upload", "browser upload", UPLOAD_LINES),
                )
            ],
        )


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _check_new_shape(engine: Engine) -> None:
    """What 7c1a00000001-3 say: report tables, claim columns, ingestfile rows, metrics_error
    as a column, provenance backfilled; the old rows otherwise untouched."""
    tables = _tables(engine)
    assert {"workerreport", "workercodec", "ingestfile"} <= set(tables)
    assert "report" not in _columns(engine, "ingestrun")
    for table in ("ingestrun", "compressionjob"):
        assert {"claimed_by", "heartbeat_at"} <= _columns(engine, table)
    with engine.connect() as conn:
        recons = {
            row.id: row
            for row in conn.execute(
                sa.text(
                    "SELECT id, params, metrics_error, hardware, weights_sha256, provenance "
                    "FROM reconstruction"
                )
            )
        }
        files = (
            conn.execute(
                sa.text(
                    "SELECT run_id, entry, source, taken, reason_code, message, sha256, width, "
                    "height, notes FROM ingestfile ORDER BY run_id, id"
                )
            )
            .mappings()
            .all()
        )
        job = conn.execute(
            sa.text(
                "SELECT status, reconstruction_id, claimed_by, heartbeat_at FROM compressionjob"
            )
        ).one()
        runs = conn.execute(
            sa.text(
                "SELECT id, claimed_by, heartbeat_at, taken, refused FROM ingestrun ORDER BY id"
            )
        ).all()
    assert _json(recons[1].params) == {"quality": 3, "weights_sha256": WEIGHTS}
    assert recons[1].metrics_error == METRICS_ERROR
    assert _json(recons[2].params) == {"quality": 6} and recons[2].metrics_error is None
    assert recons[1].weights_sha256 == WEIGHTS and recons[2].weights_sha256 is None
    # The machine that coded rows from before the chain is not known: an empty record.
    assert all(_json(r.provenance) == {} and r.hardware is None for r in recons.values())

    expected = [(1, line["source"], line) for line in FOLDER_LINES] + [
        (2, f"{index:05d}", line) for index, line in enumerate(UPLOAD_LINES)
    ]
    assert len(files) == len(expected)
    for row, (run_id, entry, line) in zip(files, expected, strict=True):
        assert (row["run_id"], row["entry"]) == (run_id, entry)
        assert bool(row["taken"]) == line["taken"]
        for key in ("source", "reason_code", "message", "sha256", "width", "height"):
            assert row[key] == line[key], key
        assert list(_json(row["notes"]) or []) == line["notes"]
    assert (job.status, job.reconstruction_id, job.claimed_by, job.heartbeat_at) == (
        "done",
        1,
        None,
        None,
    )
    assert [tuple(r) for r in runs] == [(1, None, None, 1, 2), (2, None, None, 1, 1)]


def _check_old_shape(engine: Engine) -> None:
    """Back at ``361aab6012f6``: the new tables and columns gone, the data where it was."""
    tables = _tables(engine)
    assert not {"workerreport", "workercodec", "ingestfile"} & set(tables)
    assert not {"metrics_error", "hardware", "weights_sha256", "provenance"} & _columns(
        engine, "reconstruction"
    )
    for table in ("ingestrun", "compressionjob"):
        assert not {"claimed_by", "heartbeat_at"} & _columns(engine, table)
    with engine.connect() as conn:
        params = dict(conn.execute(sa.text("SELECT id, params FROM reconstruction")).all())
        reports = dict(conn.execute(sa.text("SELECT id, report FROM ingestrun")).all())
        jobs = conn.execute(sa.text("SELECT status, reconstruction_id FROM compressionjob")).all()
    assert {i: _json(p) for i, p in params.items()} == OLD_PARAMS
    assert _json(reports[1]) == _report(FOLDER_LINES)
    assert _json(reports[2]) == _report(UPLOAD_LINES)
    assert [tuple(j) for j in jobs] == [("done", 1)]


def test_old_rows_survive_upgrade_downgrade_and_upgrade_again(scratch: Engine) -> None:
    _migrate(scratch, "upgrade", BEFORE_CHAIN)
    _insert_old_rows(scratch)
    _migrate(scratch, "upgrade", "head")
    _check_new_shape(scratch)
    _migrate(scratch, "downgrade", BEFORE_CHAIN)
    _check_old_shape(scratch)
    _migrate(scratch, "upgrade", "head")
    _check_new_shape(scratch)


def test_migrated_schema_matches_the_models(scratch: Engine) -> None:
    """What ``alembic check`` does: autogenerate finds nothing between the models and head."""
    from sqlmodel import SQLModel

    import backend.models  # noqa: F401  (registers every table)

    _migrate(scratch, "upgrade", "head")
    with scratch.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
