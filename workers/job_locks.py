"""One live worker per compression job.

A message can reach a second worker while its first delivery still runs: Redis hands an
unacknowledged message out again once the visibility timeout has passed, and a slow external
codec can outlast it. A job being coded is held by a PostgreSQL advisory lock on a connection of
its own; the server drops the lock with the connection, so a killed worker frees its jobs at
once (a vanished host's, after the TCP keepalives set in ``backend.core.db``). The locks need a
direct or session-pooled connection: a transaction-pooling proxy (PgBouncer in transaction
mode) would hand them to other clients. On SQLite (the embedded path, one process) a set in the
process does the same.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from backend.core.db import get_engine

# First key of PostgreSQL's two-key advisory locks: "compression job"; the second is its id.
_NAMESPACE = 0x5C1C
_local_held: set[int] = set()
_local_guard = threading.Lock()


@contextlib.contextmanager
def hold(job_ids: Iterable[int]) -> Iterator[set[int]]:
    """Hold the jobs no other live worker holds, for the ``with`` block; yields their ids."""
    ids = list(dict.fromkeys(job_ids))
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        with _local_guard:
            mine = {job_id for job_id in ids if job_id not in _local_held}
            _local_held.update(mine)
        try:
            yield mine
        finally:
            with _local_guard:
                _local_held.difference_update(mine)
        return
    with engine.connect() as connection:
        try_lock = text("SELECT pg_try_advisory_lock(:namespace, :job_id)")
        mine = {
            job_id
            for job_id in ids
            if connection.execute(try_lock, {"namespace": _NAMESPACE, "job_id": job_id}).scalar()
        }
        connection.commit()
        try:
            yield mine
        finally:
            # A broken connection is closed by SQLAlchemy, and its locks go with it.
            with contextlib.suppress(SQLAlchemyError):
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
                connection.commit()
