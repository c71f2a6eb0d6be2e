"""The one Celery app. Codec jobs go to the ``gpu`` queue, tiling and metrics to ``cpu``.

Start workers with ``celery -A workers.celery_app worker -Q gpu`` (one process per GPU) and
``celery -A workers.celery_app worker -Q cpu``. The broker settings and the queue of each task
are the ones the web side sends with (:func:`backend.services.tasks.celery_config`).
"""

from __future__ import annotations

from celery import Celery, Task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError

from backend.core.config import get_settings
from backend.services.tasks import celery_config

settings = get_settings()

# Failures worth another try: the database or the broker was briefly away (kombu's error for
# an unreachable broker is not a ConnectionError).
TRANSIENT = (OperationalError, BrokerError, ConnectionError, TimeoutError)


class BackgroundTask(Task):
    """Every task's retry policy, declared once: a failure of the machine (database or broker
    briefly away) is tried again with growing waits, so a restart of either loses no work;
    anything else fails at once, and the task records why on its row."""

    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = settings.task_max_retries


# ``workers.reports`` and ``workers.startup`` hold no task: they are listed so that every worker
# loads their signal handlers, which write the worker's report of what it can run and, when it is
# ready, clear killed writers' leftovers and send again the jobs that nobody is on.
celery_app = Celery(
    "sclic",
    include=["workers.tasks", "workers.reports", "workers.startup"],
    task_cls=BackgroundTask,
)
celery_app.conf.update(
    **celery_config(settings),
    # One message at a time per process, acknowledged only when done: a worker killed mid-image
    # leaves the message to be delivered again.
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_hijack_root_logger=False,
)

app = celery_app
