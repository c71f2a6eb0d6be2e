"""Helpers shared by the worker tests: self-made checkpoints, real Celery workers, waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# How long a test waits for a worker to get somewhere: long enough for a machine loaded by
# other work (a passing test never waits for it), short enough that a hang still fails.
DEADLINE_S = 300.0


def save_checkpoint(folder: Path, stem: str, n: int, m: int, seed: int = 0) -> Path:
    """Save a random ``ScaleHyperprior(n, m)`` as ``folder/<stem>-<sha8>.pth.tar``."""
    import torch
    from compressai.models import ScaleHyperprior

    from workers.codecs.checkpoints import write_checkpoint

    torch.manual_seed(seed)
    return write_checkpoint(ScaleHyperprior(n, m).state_dict(), folder, stem)


def wait_for(predicate: Callable[[], T], timeout: float, what: str, log: Path | None = None) -> T:
    """Poll ``predicate`` until it returns something true and return that; after ``timeout``
    seconds fail with ``what`` and the end of ``log``. Deadlines are generous (a loaded machine
    is slow, never wrong): a passing test never waits for them."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tail}")
        time.sleep(0.2)


def exiting_members(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` that have not finished exiting (Linux ``/proc``).

    A zombie has: the kernel closes a process's files, and so drops its ``flock`` locks, late in
    its exit, after tearing down its memory, and only then leaves the zombie for its parent.
    """
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


class Worker:
    """A real Celery worker (prefork) on the gpu and cpu queues, in a process group of its own,
    logging to ``log``."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "worker",
                "-Q",
                "gpu,cpu",
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "-n",
                f"test-{uuid.uuid4().hex[:6]}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=REPO,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole group (main process and pool children), as the OOM killer or a lost
        host would, and return once every one of them has finished exiting. ``wait()`` covers
        the main process only, and a pool child that is still being torn down still holds the
        locks on its temporary files, which the next worker's sweep would then keep."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=120)
        wait_for(
            lambda: not exiting_members(self.proc.pid),
            120,
            f"the processes of killed worker group {self.proc.pid} to exit",
        )

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), or a kill when that takes over two minutes."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.kill()
