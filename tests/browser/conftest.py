"""Browser tests: a real uvicorn server on the test database and Debian's headless Chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.servers import base_url, listening_socket, uvicorn_fd_args

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture()
def live_server(data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The platform served by uvicorn on this test's database and data folder, on a socket
    bound here and handed over (no free port picked first and bound later)."""
    sock = listening_socket()
    env = os.environ.copy()
    env["SCLIC_DATA_DIR"] = str(data_dir)
    env.pop("REDIS_URL", None)  # tasks in-process: browser tests need no worker
    log = (tmp_path / "server.log").open("wb")
    with sock:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "workers.embedded:create_app",  # as `sclic serve` without REDIS_URL
                "--factory",
                *uvicorn_fd_args(sock),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
        )
        base = base_url(sock)
    try:
        deadline = time.monotonic() + 180  # generous: a loaded machine imports slowly
        while True:
            try:
                if httpx.get(base + "/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is missing: run scripts/system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture()
def browser_page(browser, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.screenshot(path=str(tmp_path / "last.png"))
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def login(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_url(lambda url: "/login" not in url)
