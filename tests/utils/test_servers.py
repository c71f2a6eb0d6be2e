"""The socket handed to test and benchmark servers: its port is ours from the start, and
uvicorn serves on it."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.servers import base_url, listening_socket, uvicorn_fd_args

APP = """
async def app(scope, receive, send):
    body = b"served"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""


def test_no_other_program_can_take_the_port_before_the_server_serves_on_it():
    # A port picked free and closed again (the old way) could be bound by anyone meanwhile.
    with listening_socket() as sock, socket.socket() as other:
        with pytest.raises(OSError) as refused:
            other.bind(sock.getsockname())
        assert refused.value.errno == errno.EADDRINUSE


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_serves_on_the_handed_socket(tmp_path: Path, workers: int):
    (tmp_path / "tiny_app.py").write_text(APP)
    with listening_socket() as sock:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tiny_app:app", *uvicorn_fd_args(sock)]
            + ["--workers", str(workers), "--log-level", "warning"],
            cwd=tmp_path,
            pass_fds=(sock.fileno(),),
        )
        base = base_url(sock)
    try:
        deadline = time.monotonic() + 180  # generous: a loaded machine starts slowly
        while True:
            try:
                answer = httpx.get(base + "/", timeout=5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert (answer.status_code, answer.text) == (200, "served")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_accepted_connections_send_small_answers_at_once():
    # uvicorn treats a passed descriptor as a Unix socket and sets no TCP_NODELAY itself: each
    # accepted connection must carry it from the listening socket, or small answers wait for
    # delayed ACKs (a warm tile then took 44 ms instead of 2).
    with listening_socket() as sock, socket.create_connection(sock.getsockname()[:2]):
        accepted, _ = sock.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
