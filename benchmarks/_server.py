"""Shared by the benchmarks: a throwaway PostgreSQL database and a uvicorn server on it."""

from __future__ import annotations

import asyncio
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

from tests.utils.servers import base_url, listening_socket, uvicorn_fd_args

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port free now, for a program that binds it itself (nginx); it may be taken before
    then, so servers we start ourselves get a socket instead (:func:`uvicorn_server`)."""
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
    """The platform under uvicorn in its own process group, serving on a socket bound here (so
    no other program can take its port first); yields (base URL, process)."""
    sock = listening_socket()
    with sock:
        proc = _start_uvicorn(sock, workers)
        base = base_url(sock)
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


def _start_uvicorn(sock: socket.socket, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backend.main:create_app",
            "--factory",
            *uvicorn_fd_args(sock),
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
        pass_fds=(sock.fileno(),),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    The client shares the machine with the server, so it should cost what a browser's network
    stack costs the page, not what a full-featured Python client costs (httpx spends about as
    long on a small request as the server does). Like a browser, it opens a new connection
    instead of reusing one idle for longer than the server keeps it (uvicorn: 5 s).
    """

    IDLE_REOPEN_S = 4.0

    def __init__(self, base: str) -> None:
        self.host = base.removeprefix("http://")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    @classmethod
    async def open(cls, base: str) -> Connection:
        connection = cls(base)
        await connection._connect()
        return connection

    async def _connect(self) -> None:
        self.close()
        host, port = self.host.split(":")
        self.reader, self.writer = await asyncio.open_connection(host, int(port))
        self.last_used = time.monotonic()

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None or time.monotonic() - self.last_used > self.IDLE_REOPEN_S:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method not in ("GET", "HEAD", "DELETE"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length)
        self.last_used = time.monotonic()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
