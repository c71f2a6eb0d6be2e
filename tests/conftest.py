"""Test set-up: a fresh PostgreSQL database per run (from DATABASE_URL), emptied between tests,
and a data folder per test. Without DATABASE_URL the suite runs on SQLite (embedded path)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.core.config import get_settings
from backend.core.db import get_engine, reset_engines

SERVER_URL = os.environ.get("DATABASE_URL")


def _admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A database of its own for this run; dropped at the end."""
    if not SERVER_URL:
        yield None
        return
    name = f"sclic_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_admin_url(SERVER_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_admin_url(SERVER_URL)).set(database=name).render_as_string(hide_password=False)
    yield url
    reset_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> str | None:
    from backend.core.migrate import upgrade_head

    session_data = tmp_path_factory.mktemp("sclic-data")
    _apply_env(database_url, session_data)
    upgrade_head()
    return database_url


def _apply_env(database_url: str | None, data_dir: Path) -> None:
    os.environ["SCLIC_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    get_settings.cache_clear()
    reset_engines()


@pytest.fixture(scope="session", autouse=True)
def in_process_tasks() -> Iterator[None]:
    """Tasks enqueued without REDIS_URL run in this process, looked up by name among the
    workers' tasks: the runner that ``sclic serve`` installs (the web side alone has none)."""
    from backend.services import tasks
    from workers.embedded import install_runner

    install_runner()
    yield
    tasks.install_local_runner(None)


@pytest.fixture()
def codec_worker(data_dir: Path):  # type: ignore[no-untyped-def]
    """A live codec worker that reports every registered codec as able to run."""
    from tests.utils.worker_reports import report_worker

    return report_worker()


@pytest.fixture()
def data_dir(tmp_path: Path, migrated: str | None) -> Iterator[Path]:
    """A fresh data folder and an empty database for each test."""
    path = tmp_path / "data"
    path.mkdir()
    os.environ["SCLIC_DATA_DIR"] = str(path)
    get_settings.cache_clear()
    if migrated is None:
        # SQLite lives in the data folder: migrate the new one.
        reset_engines()
        from backend.core.migrate import upgrade_head

        upgrade_head()
    else:
        _truncate_all()
    yield path
    get_settings.cache_clear()


def _truncate_all() -> None:
    from sqlmodel import SQLModel

    import backend.models  # noqa: F401

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with get_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture()
def session(data_dir: Path):  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    with Session(get_engine()) as s:
        yield s


@pytest.fixture()
def app(data_dir: Path):  # type: ignore[no-untyped-def]
    from backend.main import create_app

    return create_app()


@pytest.fixture()
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c
