"""Fault injection for worker processes the tests start (on their PYTHONPATH only).

``SCLIC_TEST_FSYNC_DELAY`` seconds of sleep before every ``os.fsync``: storing a reconstruction
then takes long enough for a test to kill the worker while its temporary file is written but not
yet renamed to the blind name.
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
