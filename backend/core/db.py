"""Engine and sessions. PostgreSQL (psycopg 3) when configured, SQLite in the data folder
otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from backend.core.config import get_settings

_engines: dict[str, Engine] = {}


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # TCP keepalives: a worker's host that vanishes loses its connections within a minute or
    # so, not after the kernel's 2 h.
    keepalives = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
    return create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={**keepalives, "keepalives_count": 3},
    )


def get_engine() -> Engine:
    settings = get_settings()
    url = settings.effective_database_url
    if url not in _engines:
        if settings.embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        _engines[url] = _make_engine(url)
    return _engines[url]


def reset_engines() -> None:
    """Dispose every engine (after the settings changed, or before a process forks)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


async def get_session() -> AsyncIterator[Session]:
    """A session per request. A coroutine, so that opening and closing it costs no trip through
    the thread pool (opening does no I/O; closing returns the connection to the pool). Objects
    stay readable after commit: responses are built from them without a re-select."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session
