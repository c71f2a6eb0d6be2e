"""A listening socket to hand to a uvicorn server the tests or the benchmarks start.

Picking a free port (bind to port 0, read it, close) and then telling uvicorn to bind it leaves
a moment in which anything else on the machine may take that port, and the server then fails
to start, or another program answers in its place. Binding here and passing the listening
socket to uvicorn (``--fd``) keeps the port this process's from the first moment; uvicorn
serves on it, with several workers too.
"""

from __future__ import annotations

import socket


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a port the kernel chose and listening; inheritable, so a child
    process given its descriptor (``pass_fds``) can serve on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # uvicorn takes a passed descriptor for a Unix socket and so never sets TCP_NODELAY on
        # what it accepts; set here, Linux hands it on to every accepted connection. Without it
        # small responses wait for delayed ACKs (about 40 ms each).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, 0))
        sock.listen(1024)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def uvicorn_fd_args(sock: socket.socket) -> list[str]:
    """The uvicorn command-line arguments that serve on ``sock`` (instead of ``--host`` and
    ``--port``); start the process with ``pass_fds=(sock.fileno(),)``."""
    return ["--fd", str(sock.fileno())]


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"
