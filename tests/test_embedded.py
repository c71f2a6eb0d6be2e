"""The embedded default: no DATABASE_URL and no REDIS_URL means SQLite and in-process tasks,
said loudly in the log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import logging, sys
from backend.core.config import get_settings
from backend.core.migrate import upgrade_head
upgrade_head()
from workers.embedded import create_app  # what `sclic serve` serves without REDIS_URL
create_app()
from backend.services.tasks import enqueue
future = enqueue("make_tiles", 12345)  # no such reconstruction: the task returns 0
print("RESULT", future.result(timeout=120), get_settings().effective_database_url)
"""


def test_embedded_mode_uses_sqlite_and_runs_tasks_in_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["SCLIC_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "EMBEDDED MODE" in result.stderr
    assert "running background task make_tiles in this process" in result.stderr
    assert f"RESULT 0 sqlite:///{tmp_path / 'data' / 'sclic.sqlite3'}" in result.stdout
    assert (tmp_path / "data" / "sclic.sqlite3").is_file()
