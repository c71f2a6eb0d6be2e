"""Fault injection for worker processes the tests start (on their PYTHONPATH only).

Each fault holds the worker at one point until the test creates a file (a condition, not a
sleep, so a loaded machine cannot outrun it); the test kills the worker while it is held.

``SCLIC_TEST_FSYNC_HOLD``: every ``os.fsync`` waits for that file first, so storing a
reconstruction stops while its temporary file is written but not yet renamed to the blind name.
``SCLIC_TEST_INGEST_HOLD`` with ``SCLIC_TEST_INGEST_HOLD_AFTER`` (n): an ingest run stops after
n files, part-way through.
"""

import os
import time


def _wait_for_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.05)


_FSYNC_HOLD = os.environ.get("SCLIC_TEST_FSYNC_HOLD", "")

if _FSYNC_HOLD:
    _fsync = os.fsync

    def _held_fsync(fd: int) -> None:
        _wait_for_file(_FSYNC_HOLD)
        _fsync(fd)

    os.fsync = _held_fsync

_INGEST_HOLD = os.environ.get("SCLIC_TEST_INGEST_HOLD", "")

if _INGEST_HOLD:
    from backend.services import ingest_db

    _ingest_one = ingest_db.ingest_one
    _hold_after = int(os.environ.get("SCLIC_TEST_INGEST_HOLD_AFTER", "0"))
    _started = 0

    def _held_ingest_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        global _started
        if _started >= _hold_after:
            _wait_for_file(_INGEST_HOLD)
        _started += 1
        return _ingest_one(*args, **kwargs)

    ingest_db.ingest_one = _held_ingest_one
