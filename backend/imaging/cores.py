"""How many threads the CPU-bound helpers (the metrics' filters) spread over."""

from __future__ import annotations

import os

# Beyond this an image's rows are too few per thread for more threads to help.
MAX_THREADS = 8


def usable_cores() -> int:
    """The cores this process may run on (its affinity, as in a container), 1 to 8."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(MAX_THREADS, len(usable) if usable else os.cpu_count() or 1))
