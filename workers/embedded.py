"""The embedded platform (no REDIS_URL): the web app and its tasks in one process.

This is the composition root that knows both sides: it installs the in-process task runner
(task names resolved among the Celery tasks of :mod:`workers.tasks`), starts the in-process
worker's report of what it can run and sends again the jobs a restart interrupted
(:mod:`workers.startup`), so the admin's pages work the same as with Celery workers.
``sclic serve`` and ``sclic demo`` serve :func:`create_app` when no REDIS_URL is set.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from backend.core.config import get_settings
from backend.services import tasks

log = logging.getLogger("sclic.embedded")

APP_FACTORY = "workers.embedded:create_app"


def run_task(task_name: str, args: tuple[tasks.TaskArg, ...]) -> object:
    """Run the Celery task ``task_name`` here, by name, as a worker would."""
    import workers.tasks  # noqa: F401  (registers the tasks on the app)
    from workers.celery_app import celery_app

    try:
        task = celery_app.tasks[tasks.TASK_PREFIX + task_name]
    except KeyError:
        known = sorted(n for n in celery_app.tasks if n.startswith(tasks.TASK_PREFIX))
        raise tasks.NoTaskRunnerError(f"no task {task_name!r}; known: {known}") from None
    return task.run(*args)


def install_runner() -> None:
    """Let this process run tasks by name: enqueued ones when no REDIS_URL is set, and those
    run at once (the demo's loading)."""
    tasks.install_local_runner(run_task)


def _reporting(app: FastAPI) -> None:
    """Report the in-process worker's codecs while the app runs, as a Celery worker does, send
    again the compression jobs a restart left with nobody on them (their in-process queue died
    with the last process), and mark the worker stopped when the app shuts down (uvicorn ends
    on the signal it caught, so an ``atexit`` hook would never run)."""
    from workers import reports, startup

    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        reports.start(reports.embedded_worker_name(), reports.EMBEDDED_QUEUES)
        try:
            async with serve(app) as state:
                await run_in_threadpool(startup.resume_interrupted_jobs)
                yield state
        finally:
            await run_in_threadpool(reports.stop)

    app.router.lifespan_context = lifespan


def create_app() -> FastAPI:
    """The web app; embedded, with its in-process worker running and reporting."""
    from backend.main import create_app as create_web_app

    app = create_web_app()
    if not get_settings().redis_url:
        install_runner()
        _reporting(app)
    return app
