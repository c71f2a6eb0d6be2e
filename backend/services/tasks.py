"""Enqueueing background work: Celery when REDIS_URL is set, otherwise one in-process thread.

Callers commit their transaction first and enqueue afterwards, so a worker never looks for a
row that is not there yet. Task functions take ids and are idempotent.
"""

from __future__ import annotations

import importlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from backend.core.config import get_settings

log = logging.getLogger("sclic.tasks")

_local_pool: ThreadPoolExecutor | None = None
_pending: set[Future[object]] = set()
_pending_lock = threading.Lock()


def enqueue(
    task_name: str, *args: int | str | list[int], delay_s: float = 0.0
) -> Future[object] | None:
    """Send ``workers.tasks.<task_name>`` to its queue (to run ``delay_s`` seconds from now), or
    run it in-process when embedded (there, at once: one process never races itself)."""
    if get_settings().redis_url:
        from workers.celery_app import celery_app

        celery_app.send_task(
            f"workers.tasks.{task_name}", args=list(args), countdown=delay_s or None
        )
        return None
    global _local_pool
    if _local_pool is None:
        log.warning(
            "EMBEDDED MODE: running background task %s in this process (no REDIS_URL set)",
            task_name,
        )
        _local_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sclic-task")
    future = _local_pool.submit(_run_local, task_name, args)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)
    return future


def _forget(future: Future[object]) -> None:
    with _pending_lock:
        _pending.discard(future)


def _run_local(task_name: str, args: tuple[int | str | list[int], ...]) -> object:
    module = importlib.import_module("workers.tasks")
    task = getattr(module, task_name)
    try:
        return task.run(*args)
    except Exception:
        log.exception("in-process task %s%r failed", task_name, args)
        raise


def drain_local_tasks() -> None:
    """Wait for every in-process task (embedded mode) to finish, those that tasks enqueue
    included; used before a CLI exits."""
    global _local_pool
    while True:
        with _pending_lock:
            waiting = list(_pending)
        if not waiting:
            break
        wait(waiting)
    if _local_pool is not None:
        _local_pool.shutdown(wait=True)
        _local_pool = None
