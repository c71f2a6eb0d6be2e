"""The one Celery app. Codec jobs go to the ``gpu`` queue, tiling and metrics to ``cpu``.

Start workers with ``celery -A workers.celery_app worker -Q gpu`` (one process per GPU) and
``celery -A workers.celery_app worker -Q cpu``.
"""

from __future__ import annotations

from celery import Celery

from backend.core.config import get_settings

settings = get_settings()

celery_app = Celery("sclic", include=["workers.tasks"])
celery_app.conf.update(
    broker_url=settings.redis_url or "memory://",
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    # One message at a time per process, acknowledged only when done: a worker killed mid-image
    # leaves the message to be delivered again.
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_transport_options={
        "visibility_timeout": settings.task_visibility_timeout_s,
        "unacked_restore_interval": settings.task_restore_interval_s,
        "unacked_restore_throttle": 1,
    },
    broker_connection_retry_on_startup=True,
    task_default_queue="cpu",
    task_routes={
        "workers.tasks.compress": {"queue": "gpu"},
        "workers.tasks.compress_batch": {"queue": "gpu"},
        "workers.tasks.measure": {"queue": "cpu"},
        "workers.tasks.make_tiles": {"queue": "cpu"},
    },
    worker_hijack_root_logger=False,
)

app = celery_app
