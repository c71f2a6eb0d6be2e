"""What killed workers leave behind, and its removal.

Temporary files and folders carry their owner in their names: process id, the process's start
time and the host. A worker killed mid-write leaves them under a name no reader looks at; the
next worker on the same host removes those whose process is gone, or whose id now belongs to a
younger process (a restarted container hands out the same small ids again), and any worker
removes those older than a day (an owner on another host sharing the store).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path

STALE_AFTER_S = 86_400.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts; a
    zombie, killed but not yet reaped by its new parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_stat(pid)[0] != "Z"


def _proc_stat(pid: int) -> list[str]:
    """Fields 3 onward of ``/proc/<pid>/stat`` (Linux); empty where unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return [""]
    # The command name (field 2) is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split() or [""]


def _start_ticks(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (field 22); None if unknown."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else None


def owner_tag() -> str:
    """``pid.start@host`` of this process for temporary names (no ``@`` or ``-`` in the part
    before the host)."""
    pid = os.getpid()
    return f"{pid}.{_start_ticks(pid) or 0}@{socket.gethostname()}"


def owner_gone(tag: str) -> bool:
    """Whether the process a ``pid.start@host`` tag names is known to be gone (this host's)."""
    process, _, host = tag.partition("@")
    pid, _, started = process.partition(".")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if not pid_alive(int(pid)):
        return True
    now = _start_ticks(int(pid))
    return started not in ("", "0") and now is not None and now != started


def remove_path(path: Path) -> bool:
    """Remove a file or folder that may vanish meanwhile; whether it was removed here."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    return False


def is_stale(path: Path, older_than_s: float = STALE_AFTER_S) -> bool:
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_mtime < time.time() - older_than_s
    return False


def remove_orphans(
    paths: Iterable[Path], prefix: str, separator: str, older_than_s: float | None = None
) -> int:
    """Remove the temporary files or folders among ``paths`` named ``prefix + owner tag +
    separator + …`` whose owner is gone, or (with ``older_than_s``) that are older than that;
    returns how many. The owner tag is what lies between the prefix and the last separator."""
    removed = 0
    for path in paths:
        owner = path.name[len(prefix) :].rpartition(separator)[0]
        stale = older_than_s is not None and is_stale(path, older_than_s)
        if path.name.startswith(prefix) and (owner_gone(owner) or stale) and remove_path(path):
            removed += 1
    return removed
