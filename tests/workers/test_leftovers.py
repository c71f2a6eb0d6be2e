"""Owners of temporary names: gone when their process died or its id went to a younger one."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from workers.leftovers import owner_gone, owner_tag


def test_this_process_is_not_gone() -> None:
    tag = owner_tag()
    assert tag.startswith(f"{os.getpid()}.") and tag.endswith(f"@{socket.gethostname()}")
    assert not owner_gone(tag)


def test_a_dead_process_or_a_reused_id_is_gone() -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    host = socket.gethostname()
    assert owner_gone(f"{finished.pid}.123@{host}")
    assert owner_gone(f"{finished.pid}@{host}")  # no start time recorded
    assert owner_gone(f"{os.getpid()}.1@{host}")  # this id, another start time


def test_owners_elsewhere_or_unreadable_are_kept() -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert not owner_gone(f"{finished.pid}.1@another-host")
    assert not owner_gone("noowner")
    assert not owner_gone(f"x.1@{socket.gethostname()}")


def test_a_zombie_counts_as_gone() -> None:
    """A killed worker's child that nobody has reaped yet still answers signals."""
    import time

    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{child.pid}/stat")
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert owner_gone(f"{child.pid}.1@{socket.gethostname()}")
        assert owner_gone(f"{child.pid}@{socket.gethostname()}")
    finally:
        child.wait()
