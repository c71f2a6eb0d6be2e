"""A compression job is held by one live worker at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from workers import job_locks


def test_a_held_job_is_not_held_twice_and_is_free_afterwards(session) -> None:
    with job_locks.hold([7, 8]) as first:
        assert first == {7, 8}
        with job_locks.hold([8, 9]) as second:
            assert second == {9}
    with job_locks.hold([7, 8, 8]) as again:
        assert again == {7, 8}


def test_a_killed_holder_frees_its_jobs(session) -> None:
    """Another process holds job 5 and dies without letting go (PostgreSQL drops the lock with
    its connection; on SQLite each process holds only its own jobs)."""
    code = textwrap.dedent(
        """
        import os, sys
        from workers import job_locks
        with job_locks.hold([5]) as held:
            assert held == {5}
            print("held", flush=True)
            sys.stdin.readline()
            os._exit(9)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with job_locks.hold([5, 6]) as held:
            expected = {6} if job_locks.get_engine().dialect.name == "postgresql" else {5, 6}
            assert held == expected
    finally:
        holder.communicate("go\n", timeout=30)
    # The server drops a dead client's locks once it notices the closed connection.
    deadline = time.monotonic() + 10
    while True:
        with job_locks.hold([5]) as held:
            if held == {5} or time.monotonic() > deadline:
                break
        time.sleep(0.1)
    assert held == {5}
