"""What killed workers leave behind, and its removal.

Temporary files and folders carry their owner (host and process id) in their names. A worker
killed mid-write leaves them under a name no reader looks at; the next worker on the same host
removes those whose process is gone, and any worker removes those older than a day (an owner on
another host sharing the store).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from pathlib import Path

STALE_AFTER_S = 86_400.0


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_tag() -> str:
    """``pid@host`` of this process, for temporary names (no ``@`` occurs in a host name)."""
    return f"{os.getpid()}@{socket.gethostname()}"


def owner_gone(tag: str) -> bool:
    """Whether the process a ``pid@host`` tag names is known to be dead (only this host's)."""
    pid, _, host = tag.partition("@")
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


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
