"""Shared by the benchmarks: a throwaway PostgreSQL database and a uvicorn server on it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def scratch_database() -> Iterator[tuple[str, Path]]:
    """A new PostgreSQL database and data folder, configured in this process's environment."""
    name = f"sclic_bench_{uuid.uuid4().hex[:8]}"
    admin_url = SERVER_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = SERVER_URL.rsplit("/", 1)[0] + "/" + name
    with tempfile.TemporaryDirectory(prefix="sclic-bench-") as data:
        os.environ.update(DATABASE_URL=url, SCLIC_DATA_DIR=data)
        os.environ.pop("REDIS_URL", None)
        from backend.core.config import get_settings
        from backend.core.db import reset_engines
        from backend.core.migrate import upgrade_head

        get_settings.cache_clear()
        reset_engines()
        upgrade_head()
        try:
            yield url, Path(data)
        finally:
            reset_engines()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@contextlib.contextmanager
def uvicorn_server(workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The platform under uvicorn in its own process group; yields (base URL, process)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backend.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        cwd=REPO,
        env=os.environ.copy(),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
