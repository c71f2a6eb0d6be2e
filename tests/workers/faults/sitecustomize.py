"""Fault injection for worker processes the tests start (on their PYTHONPATH only).

``SCLIC_TEST_FSYNC_DELAY`` seconds of sleep before every ``os.fsync``: storing a reconstruction
then takes long enough for a test to kill the worker while its temporary file is written but not
yet renamed to the blind name. ``SCLIC_TEST_INGEST_DELAY``: see below.
"""

import os
import time

_DELAY = float(os.environ.get("SCLIC_TEST_FSYNC_DELAY", "0") or 0)

if _DELAY > 0:
    _fsync = os.fsync

    def _slow_fsync(fd: int) -> None:
        time.sleep(_DELAY)
        _fsync(fd)

    os.fsync = _slow_fsync

# ``SCLIC_TEST_INGEST_DELAY`` seconds of sleep before each file of an ingest run: a run then
# takes long enough for a test to kill its worker part-way through.
_INGEST_DELAY = float(os.environ.get("SCLIC_TEST_INGEST_DELAY", "0") or 0)

if _INGEST_DELAY > 0:
    from backend.services import ingest_db

    _ingest_one = ingest_db.ingest_one

    def _slow_ingest_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(_INGEST_DELAY)
        return _ingest_one(*args, **kwargs)

    ingest_db.ingest_one = _slow_ingest_one
