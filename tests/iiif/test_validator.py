"""The official IIIF validator (``iiif-validator``) against a live uvicorn server.

The validator checks pixels against its own test image: a 1000 x 1000 grid of 100-pixel squares
whose colours it carries in ``ValidationInfo.colorInfo`` (the package ships the table, not the
image). We draw that grid and serve it under the validator's identifier.
"""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import numpy as np
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from backend.iiif import ResolvedImage, TileService, build_iiif_routes
from tests.iiif.conftest import save_png

validator = pytest.importorskip("iiif_validator.validator")

VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
VALIDATOR_SCRIPT = Path(sys.executable).parent / "iiif-validate.py"


def draw_validator_image(path: Path) -> Path:
    colours = validator.ValidationInfo().colorInfo
    grid = np.zeros((1000, 1000, 3), dtype=np.uint8)
    for x in range(10):
        for y in range(10):
            grid[y * 100 : (y + 1) * 100, x * 100 : (x + 1) * 100] = colours[x][y]
    return save_png(grid, path)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("validator")
    resolved = ResolvedImage(
        VALIDATOR_ID, "image", draw_validator_image(folder / f"{VALIDATOR_ID}.png")
    )

    async def resolver(request: Request, identifier: str) -> ResolvedImage | None:
        return resolved if identifier == VALIDATOR_ID else None

    routes = build_iiif_routes(
        TileService(folder / "tiles"),
        resolver,
        identifier_pattern=re.compile(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
        ),
    )
    app = Starlette(routes=[Mount("/iiif/3", routes=list(routes))])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_validator(server: str, *options: str) -> tuple[dict[str, bool], str]:
    """Run ``iiif-validate.py``; returns each test's pass/fail and the whole output."""
    command = [sys.executable, str(VALIDATOR_SCRIPT), "-s", server, "-p", "iiif/3"]
    command += ["-i", VALIDATOR_ID, "--version=3.0", *options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    output = result.stdout + result.stderr
    outcomes = {m[1]: m[2] == "PASS" for m in re.finditer(r"test (\w+) (PASS|FAIL)", output)}
    assert outcomes and result.returncode == sum(not ok for ok in outcomes.values()), output
    return outcomes, output


@pytest.mark.parametrize("level", ["1", "2"])
def test_official_validator_passes(live_server: str, level: str) -> None:
    listed = validator.TestSuite(validator.ValidationInfo()).list_tests("3.0")
    expected = {name for name, test in listed.items() if test["level"] <= int(level)}
    outcomes, output = run_validator(live_server, "--level", level)
    assert set(outcomes) == expected, output
    assert all(outcomes.values()), output


def test_official_validator_extra_features(live_server: str) -> None:
    """The level-3 checks for features we list in ``extraFeatures``."""
    tests = ["rot_mirror", "rot_mirror_180", "rot_full_non90", "rot_region_non90"]
    outcomes, output = run_validator(live_server, *(f"--test={name}" for name in tests))
    assert outcomes == dict.fromkeys(tests, True), output


def test_size_without_caret_never_upscales(live_server: str) -> None:
    base = f"http://{live_server}/iiif/3/{VALIDATOR_ID}/full"
    for size in ("1500,1500", ",1500", "1500,", "pct:200", "!2000,3000"):
        with pytest.raises(HTTPError) as info:
            urlopen(f"{base}/{size}/0/default.jpg", timeout=30)
        assert info.value.code == 400, size
    # A box that fits the region on one side scales it down; ^ allows the full size.
    for size, expected in (("!400,2000", (400, 400)), ("^!2000,3000", (2000, 2000))):
        with urlopen(f"{base}/{size}/0/default.jpg", timeout=30) as response:
            assert Image.open(io.BytesIO(response.read())).size == expected, size
