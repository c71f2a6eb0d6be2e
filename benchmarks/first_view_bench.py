"""Time to the first full view of a 2304 x 2304 original/reconstruction pair, cold and warm.

A view is what the labelling page needs before the pair is on screen in a 1920 x 1080
viewport at fit zoom: both info.json documents, then every tile of the level OpenSeadragon
draws at that zoom (the coarsest level at least as large as the image on screen; 5 x 5 tiles
at 1152 x 1152 here), for the reconstruction and the original. The client behaves like a
browser on HTTP/1.1: at most 6 connections, session cookie on every request.

Scenarios, each on a fresh uvicorn (one worker, uvloop, httptools):

* cold: empty tile cache, nothing decoded: every tile is rendered from the PNGs.
* disk-warm: a restarted server over the cache the cold run left (the normal case once the
  workers have called ``pregenerate``).
* warm: the same view again on a running server (tiles on disk, in the page cache).
* diff cold: right after the cold pair view, the difference image on half the screen (960 x 1080,
  as in the paper's labelling setup), computed from the decoded pair and tiled.

``--progressive`` also counts the coarser levels OpenSeadragon fetches while blending in.
Figures include the client's own time on the same machine; the load average is printed.

    .venv/bin/python benchmarks/first_view_bench.py [--repeat 3] [--progressive]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tile_bench  # noqa: E402
from _server import Connection  # noqa: E402

from backend.iiif.params import scale_factors  # noqa: E402

VIEWPORT = (1920, 1080)
MAX_CONNECTIONS = 6


def fit_factors(width: int, height: int, viewport: tuple[int, int], progressive: bool) -> set[int]:
    """The scale factor drawn at fit zoom (and, if progressive, every coarser one)."""
    shown = min(viewport[0] / width, viewport[1] / height)
    factor = 1
    while math.ceil(width / (factor * 2)) >= width * shown and factor * 2 <= max(width, height):
        factor *= 2
    if not progressive:
        return {factor}
    return {f for f in scale_factors(width, height, 256) if f >= factor}


async def view(
    base: str, identifiers: list[str], viewport: tuple[int, int], progressive: bool
) -> tuple[float, int]:
    """Seconds to fetch every info.json and the fit-zoom tiles; number of requests."""
    cookie = {"Cookie": f"{tile_bench.SESSION_COOKIE}={tile_bench.SESSION_TOKEN}"}
    connections = [await Connection.open(base) for _ in range(MAX_CONNECTIONS)]
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in connections:
        idle.put_nowait(connection)

    async def get(path: str) -> tuple[int, bytes]:
        connection = await idle.get()
        try:
            return await connection.request("GET", path, cookie)
        finally:
            idle.put_nowait(connection)

    try:
        started = time.perf_counter()
        infos = await asyncio.gather(
            *(get(f"/iiif/3/{identifier}/info.json") for identifier in identifiers)
        )
        paths: list[str] = []
        for identifier, (status, body) in zip(identifiers, infos, strict=True):
            if status != 200:
                raise RuntimeError(f"info.json: {status}")
            info = json.loads(body)
            width, height = info["width"], info["height"]
            factors = fit_factors(width, height, viewport, progressive)
            paths += tile_bench.tile_paths(identifier, width, height, factors=factors)
        tiles = await asyncio.gather(*(get(path) for path in paths))
        elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    bad = [status for status, _ in tiles if status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} tiles failed: {bad[:5]}")
    return elapsed, len(identifiers) + len(paths)


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = tile_bench.free_port()
    server = tile_bench.start_server(port, 1, env)
    tile_bench.wait_ready(f"http://127.0.0.1:{port}/iiif/3/{tile_bench.IMAGE_ID}/info.json")
    return server, f"http://127.0.0.1:{port}"


Sample = tuple[float, float]  # wall seconds, server CPU seconds


def timed_view(
    server: subprocess.Popen[bytes],
    base: str,
    identifiers: list[str],
    viewport: tuple[int, int],
    progressive: bool,
    counts: dict[str, int],
    name: str,
) -> Sample:
    before = tile_bench.group_cpu_seconds(server.pid)
    seconds, counts[name] = asyncio.run(view(base, identifiers, viewport, progressive))
    return seconds, tile_bench.group_cpu_seconds(server.pid) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--progressive", action="store_true")
    args = parser.parse_args()
    pair = [tile_bench.RECONSTRUCTION_ID, tile_bench.IMAGE_ID]
    diff = [tile_bench.RECONSTRUCTION_ID + "-diff"]
    half = (VIEWPORT[0] // 2, VIEWPORT[1])
    samples: dict[str, list[Sample]] = {"cold": [], "disk-warm": [], "warm": [], "diff cold": []}
    counts: dict[str, int] = {}

    with tempfile.TemporaryDirectory(prefix="first-view-") as tmp:
        folder = Path(tmp)
        original, reconstruction = tile_bench.make_pair(folder)
        for run in range(args.repeat):
            env = {
                tile_bench.ENV_CACHE: str(folder / f"cache-{run}"),
                tile_bench.ENV_IMAGE: str(original),
                tile_bench.ENV_RECONSTRUCTION: str(reconstruction),
            }
            server, base = serve(env)
            try:
                samples["cold"].append(
                    timed_view(server, base, pair, VIEWPORT, args.progressive, counts, "cold")
                )
                samples["diff cold"].append(
                    timed_view(server, base, diff, half, args.progressive, counts, "diff cold")
                )
                for _ in range(3):
                    samples["warm"].append(
                        timed_view(server, base, pair, VIEWPORT, args.progressive, counts, "warm")
                    )
            finally:
                tile_bench.stop(server)
            server, base = serve(env)
            try:
                samples["disk-warm"].append(
                    timed_view(server, base, pair, VIEWPORT, args.progressive, counts, "disk-warm")
                )
            finally:
                tile_bench.stop(server)
            print(f"run {run + 1}/{args.repeat} done, load {os.getloadavg()[0]:.2f}", flush=True)
    report(samples, counts, args.progressive)


def report(samples: dict[str, list[Sample]], counts: dict[str, int], progressive: bool) -> None:
    targets = {"cold": 400, "disk-warm": 100, "warm": 100}
    print()
    print(
        f"first view of a {tile_bench.SIDE}x{tile_bench.SIDE} pair in {VIEWPORT[0]}x{VIEWPORT[1]}"
        f"{' (progressive levels)' if progressive else ''}, {MAX_CONNECTIONS} connections, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'scenario':<10} {'requests':>8} {'median ms':>10} {'min ms':>7} {'max ms':>7} "
        f"{'server cpu ms':>13}  target"
    )
    for name, values in samples.items():
        wall = [w * 1000 for w, _ in values]
        cpu = statistics.median(c * 1000 for _, c in values)
        target = targets.get(name)
        print(
            f"{name:<10} {counts[name]:>8} {statistics.median(wall):>10.0f} {min(wall):>7.0f} "
            f"{max(wall):>7.0f} {cpu:>13.0f}  {f'<= {target} ms' if target else '-'}"
        )


if __name__ == "__main__":
    main()
