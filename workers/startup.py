"""What a worker does when it starts, before it takes work: clear what killed writers left, and
send again the compression jobs that no worker is on, so a restart strands no work.

A Celery worker does both when it is ready (``worker_ready``); the embedded platform's
in-process worker sends the interrupted jobs again when the app starts (:mod:`workers.embedded`).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path

from celery.signals import worker_ready
from sqlmodel import Session

from backend.core.db import get_engine
from backend.services import compression
from backend.services.store import store_root, sweep_temporaries

log = logging.getLogger("sclic.workers")


@worker_ready.connect
def sweep_leftovers(**_: object) -> int:
    """Before any work: remove what killed writers left (temporary files in the store, external
    programs' scratch folders); those of living processes are kept (see ``services.store``)."""
    root = store_root()
    removed = sweep_temporaries(root, recursive=True) if root.is_dir() else 0
    removed += sweep_temporaries(Path(tempfile.gettempdir()))
    if removed:
        log.info("removed %d temporary file(s) or folder(s) of killed workers", removed)
    return removed


def resume_interrupted_jobs(now: datetime | None = None) -> list[int]:
    """Send again the queued or running compression jobs that no worker is on
    (:func:`backend.services.compression.interrupted_jobs`); their ids. A job that another live
    worker holds is not among them, and sending one twice does no harm (the task's claim decides
    who codes it). A failure is logged, never raised: it must not stop the worker starting, and
    the admin's page still offers the resume."""
    engine = get_engine()
    try:
        with Session(engine) as session:
            resumed = compression.resume_interrupted(session, now)
    except Exception:
        log.exception("sending the interrupted compression jobs again failed")
        return []
    if resumed:
        log.warning("sent %d interrupted compression job(s) again: %s", len(resumed), resumed)
    return resumed


@worker_ready.connect
def _resume_when_ready(**_: object) -> None:
    """A Celery worker is ready: send again the jobs a restart left with nobody on them."""
    resume_interrupted_jobs()
    # The worker's parent process forks pool processes later (replacements); they must not
    # inherit its open connections.
    get_engine().dispose()
