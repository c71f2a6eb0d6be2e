"""Enqueueing background work by task name: Celery when REDIS_URL is set, otherwise one
in-process thread.

The web side never imports the workers' code: a task is named (``"compress"`` is the Celery task
``workers.tasks.compress``) and sent to its queue. Embedded (no REDIS_URL), the same names run in
this process through a runner that the composition root installs (``workers.embedded``); without
one, enqueueing fails loudly instead of dropping the work.

Callers commit their transaction first and enqueue afterwards, so a worker never looks for a
row that is not there yet. Task functions take ids and are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from backend.core.config import Settings, get_settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("sclic.tasks")

TaskArg = int | str | list[int]
LocalRunner = Callable[[str, tuple[TaskArg, ...]], object]

TASK_PREFIX = "workers.tasks."
# The queue of each task: codec work needs the GPU workers, the rest any CPU worker. The
# workers' Celery app routes by this same table.
TASK_QUEUES: dict[str, str] = {
    "compress": "gpu",
    "compress_batch": "gpu",
    "measure": "cpu",
    "make_tiles": "cpu",
    "ingest": "cpu",
}
DEFAULT_QUEUE = "cpu"


class NoTaskRunnerError(RuntimeError):
    """Work was enqueued with no REDIS_URL and no in-process runner installed: nothing would
    ever run it."""


_local_runner: LocalRunner | None = None
_local_pool: ThreadPoolExecutor | None = None
_pending: set[Future[object]] = set()
_pending_lock = threading.Lock()


def queue_of(task_name: str) -> str:
    return TASK_QUEUES.get(task_name, DEFAULT_QUEUE)


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings that the web side (sending) and the workers (receiving) share."""
    return {
        "broker_url": settings.redis_url or "memory://",
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "broker_transport_options": {
            "visibility_timeout": settings.task_visibility_timeout_s,
            "unacked_restore_interval": settings.task_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        "broker_connection_retry_on_startup": True,
        "task_default_queue": DEFAULT_QUEUE,
        "task_routes": {TASK_PREFIX + name: {"queue": q} for name, q in TASK_QUEUES.items()},
    }


@lru_cache(maxsize=4)
def _sender(broker_url: str) -> Celery:
    """A Celery app that only sends messages (it knows no task): what the web side needs."""
    from celery import Celery

    app = Celery("sclic-sender")
    app.conf.update(celery_config(get_settings()))
    return app


def install_local_runner(run: LocalRunner | None) -> None:
    """Run enqueued tasks in this process, when no REDIS_URL is set, with ``run(name, args)``
    (``None`` removes it). The composition root that knows the workers installs it."""
    global _local_runner
    _local_runner = run


def local_runner_installed() -> bool:
    return _local_runner is not None


def enqueue(task_name: str, *args: TaskArg, delay_s: float = 0.0) -> Future[object] | None:
    """Send the task ``task_name`` to its queue (to run ``delay_s`` seconds from now), or run it
    in-process when embedded (there, at once: one process never races itself).

    Raises :class:`NoTaskRunnerError` when embedded and no in-process runner is installed.
    """
    settings = get_settings()
    if settings.redis_url:
        _sender(settings.redis_url).send_task(
            TASK_PREFIX + task_name,
            args=list(args),
            queue=queue_of(task_name),
            countdown=delay_s or None,
        )
        return None
    global _local_pool
    if _local_runner is None:
        message = (
            f"cannot run background task {task_name}: no REDIS_URL is set and this process has "
            "no in-process task runner (start the platform with `sclic serve`, or set REDIS_URL "
            "and start Celery workers)"
        )
        log.error(message)
        raise NoTaskRunnerError(message)
    if _local_pool is None:
        log.warning(
            "EMBEDDED MODE: running background task %s in this process (no REDIS_URL set)",
            task_name,
        )
        _local_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sclic-task")
    future = _local_pool.submit(_run_local, _local_runner, task_name, args)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)
    return future


def run_in_process(task_name: str, *args: TaskArg) -> object:
    """Run a task now, in this thread, through the installed in-process runner (the demo's
    loading does this whether or not REDIS_URL is set)."""
    if _local_runner is None:
        raise NoTaskRunnerError(f"cannot run task {task_name}: no in-process task runner")
    return _local_runner(task_name, args)


def _forget(future: Future[object]) -> None:
    with _pending_lock:
        _pending.discard(future)


def _run_local(run: LocalRunner, task_name: str, args: Sequence[TaskArg]) -> object:
    try:
        return run(task_name, tuple(args))
    except Exception:
        log.exception("in-process task %s%r failed", task_name, tuple(args))
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
