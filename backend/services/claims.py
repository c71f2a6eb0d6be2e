"""One live worker per compression job or ingest run: a claim on the row, kept by a heartbeat.

A message can reach a second worker while its first delivery still runs (Redis hands an
unacknowledged message out again once its visibility timeout has passed, and a slow external
codec can outlast it), and a worker can be killed mid-work. A worker claims a row with one
compare-and-set UPDATE (status ``running``, ``claimed_by``, ``heartbeat_at``) that succeeds only
when no other worker's claim is fresh, and refreshes the heartbeat while it works. A second
delivery while the heartbeat is fresh is left to the worker that holds it; once the heartbeat is
older than ``task_stale_after_s`` (the worker was killed or its host went away) the next
delivery takes over, and the admin's ingest page shows the run as interrupted with a button that
resumes it. One column does what an advisory lock per job did, on any database and through any
connection pooler, and says on the row who works on it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.models import CompressionJob, IngestRun, JobStatus, utcnow

Claimable = type[CompressionJob] | type[IngestRun]


def worker_token() -> str:
    """A name for one claim: host, process and a random part (a process claims many times)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def stale_before(now: datetime | None = None) -> datetime:
    """Heartbeats older than this are a worker gone."""
    return (now or utcnow()) - timedelta(seconds=get_settings().task_stale_after_s)


def claim(
    session: Session, model: Claimable, row_id: int, token: str, *, now: datetime | None = None
) -> bool:
    """Mark row ``row_id`` running for ``token``, unless another worker's claim is fresh.

    True when claimed (a gone row is not). Commits. Any status may be claimed, ``done``
    included: the worker then finds the work done and says so.
    """
    now = now or utcnow()
    heartbeat = col(model.heartbeat_at)
    result: Any = session.execute(
        update(model)
        .where(
            col(model.id) == row_id,
            or_(
                col(model.status) != JobStatus.running,
                heartbeat.is_(None),
                heartbeat < stale_before(now),
            ),
        )
        .values(status=JobStatus.running, claimed_by=token, heartbeat_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount == 1)


def refresh(model: Claimable, row_ids: Iterable[int], token: str) -> int:
    """Renew the heartbeat of the rows ``token`` still runs; how many it renewed."""
    ids = list(row_ids)
    if not ids:
        return 0
    with Session(get_engine()) as session:
        result: Any = session.execute(
            update(model)
            .where(
                col(model.id).in_(ids),
                col(model.claimed_by) == token,
                col(model.status) == JobStatus.running,
            )
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return int(result.rowcount)


@contextlib.contextmanager
def heartbeat(model: Claimable, row_ids: Iterable[int], token: str) -> Iterator[None]:
    """Renew the claims' heartbeat every ``task_heartbeat_s`` while the block runs (in a thread
    of its own, so a long codec call or a huge image keeps its claim)."""
    ids = list(row_ids)
    interval = get_settings().task_heartbeat_s
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            # A database away for a moment costs one beat; the next one renews the claim.
            with contextlib.suppress(SQLAlchemyError):
                refresh(model, ids, token)

    thread = threading.Thread(target=beat, name="sclic-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def is_stale(row: CompressionJob | IngestRun, now: datetime | None = None) -> bool:
    """Whether a queued or running row has no live worker: no heartbeat within
    ``task_stale_after_s`` (a queued row: not picked up for that long)."""
    if row.status not in (JobStatus.queued, JobStatus.running):
        return False
    last = row.heartbeat_at or row.updated_at
    if last.tzinfo is None:
        last = last.replace(tzinfo=utcnow().tzinfo)
    return last < stale_before(now)
