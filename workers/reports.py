"""Each worker tells the platform which codecs it can run, so the web host (no GPU, no weights)
can show it and refuse work that no worker can do.

A Celery worker starts a :class:`Reporter` when it is ready (``worker_ready``) and marks its
report stopped when it shuts down gracefully (``worker_shutdown``); embedded, the in-process
worker does the same (:mod:`workers.embedded`). The report is written at start and then every
``worker_report_interval_s`` (see :mod:`backend.services.worker_reports` for the reading side).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from backend.core.config import get_settings
from backend.services import worker_reports
from backend.services.worker_reports import CodecCapability, WorkerSnapshot
from workers.codecs.registry import CodecEntry, availability, entries

log = logging.getLogger("sclic.workers.reports")

EMBEDDED_QUEUES = ("gpu", "cpu")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Versions that decide what a codec produces (read from package metadata, no import)."""
    return {
        "python": sys.version.split()[0],
        "sclic": _version("sclic"),
        "torch": _version("torch"),
        "compressai": _version("compressai"),
    }


# Run in a child process: CUDA initialised in a Celery worker's parent breaks the pool
# processes it forks later, and the embedded web server need not load torch for a report.
_DEVICE_PROBE = """
import torch
if torch.cuda.is_available():
    print("cuda (" + torch.cuda.get_device_name(0) + ")")
else:
    print("cpu")
"""


@lru_cache(maxsize=1)
def _probed_device() -> str:
    if find_spec("torch") is None:
        return "cpu (torch not installed)"
    try:
        found = subprocess.run(
            [sys.executable, "-c", _DEVICE_PROBE],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown (probing torch failed: {type(exc).__name__})"
    return found.stdout.strip() or "unknown"


def device() -> str:
    """The device codec jobs run on here: ``SCLIC_CODEC_DEVICE``, else CUDA when torch sees a
    GPU, else the CPU."""
    return get_settings().codec_device or _probed_device()


def capabilities() -> tuple[CodecCapability, ...]:
    """Every registered codec and whether it can run here, with what is missing if not."""
    weights_dir = get_settings().effective_weights_dir
    out = []
    for entry in entries():
        try:
            status = availability(entry.codec_id, weights_dir)
        except Exception as exc:  # a broken configuration must not stop the report
            log.warning("checking codec %s failed: %s", entry.codec_id, exc)
            out.append(_capability(entry, False, f"its check failed: {exc}"))
            continue
        out.append(_capability(entry, status.ok, status.missing))
    return tuple(out)


def _capability(entry: CodecEntry, ok: bool, missing: str) -> CodecCapability:
    return CodecCapability(
        codec_id=entry.codec_id,
        name=entry.name,
        family=entry.family,
        paper=entry.paper,
        low=entry.settings["low"].describe(),
        high=entry.settings["high"].describe(),
        available=ok,
        missing="" if ok else missing,
    )


def snapshot(worker: str, queues: tuple[str, ...]) -> WorkerSnapshot:
    return WorkerSnapshot(
        worker=worker,
        queues=queues,
        device=device(),
        versions=versions(),
        codecs=capabilities(),
    )


def _engine() -> Engine:
    """An engine of the reporter's own, without a pool: the worker's parent process forks its
    pool processes, which must not inherit an open connection."""
    url = get_settings().effective_database_url
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def report_once(worker: str, queues: tuple[str, ...], engine: Engine | None = None) -> None:
    """Write this worker's report now."""
    with Session(engine or _engine()) as session:
        worker_reports.record(session, snapshot(worker, queues))


class Reporter:
    """Writes the report at start and then every ``worker_report_interval_s`` in a daemon
    thread; :meth:`stop` marks it stopped."""

    def __init__(self, worker: str, queues: tuple[str, ...]) -> None:
        self.worker = worker
        self.queues = queues
        self._stop = threading.Event()
        self._engine = _engine()
        self._thread = threading.Thread(
            target=self._run, name=f"sclic-report-{worker}", daemon=True
        )

    def start(self) -> Reporter:
        self._thread.start()
        return self

    def _run(self) -> None:
        interval = get_settings().worker_report_interval_s
        while True:
            try:
                report_once(self.worker, self.queues, self._engine)
            except Exception:
                # The database may be briefly away; the next round tries again.
                log.exception("writing the report of worker %s failed", self.worker)
            if self._stop.wait(interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            with Session(self._engine) as session:
                worker_reports.mark_stopped(session, self.worker)
        except Exception:
            log.exception("marking worker %s stopped failed", self.worker)
        self._engine.dispose()


_reporter: Reporter | None = None


def start(worker: str, queues: tuple[str, ...]) -> Reporter:
    """Start this process's reporter (once)."""
    global _reporter
    if _reporter is None:
        _reporter = Reporter(worker, queues).start()
        log.info("worker %s reports its codecs every %ss", worker, _interval())
    return _reporter


def stop() -> None:
    global _reporter
    if _reporter is not None:
        _reporter.stop()
        _reporter = None


def _interval() -> float:
    return get_settings().worker_report_interval_s


def embedded_worker_name() -> str:
    """The in-process worker's name on the codec page."""
    return f"embedded@{socket.gethostname()}"


@worker_ready.connect
def _start_reporting(sender: Any = None, **_: object) -> None:
    """A Celery worker is ready: report under its node name and the queues it consumes."""
    name = str(getattr(sender, "hostname", "") or f"celery@{socket.gethostname()}")
    app = getattr(sender, "app", None)
    queues: tuple[str, ...] = ()
    if app is not None:
        queues = tuple(sorted(app.amqp.queues.consume_from or app.amqp.queues))
    start(name, queues)


@worker_shutdown.connect
def _stop_reporting(**_: object) -> None:
    stop()
