"""Warm tile throughput of the IIIF routes under uvicorn, with nginx on the same files as scale.

Serves a 2304 x 2304 photographic PNG through ``build_iiif_routes`` with an access check on
every request (session cookie -> user -> (user, identifier) -> image, two dict lookups, as a
stand-in for the application's cached check), pre-renders the whole tile pyramid, warms the
server (and the page cache), then loads it with ``wrk`` (32 connections walking every tile URL of
every level, as OpenSeadragon would build them). The same run serves the same cached files
with nginx for comparison. Client and servers share the machine, so absolute figures depend on
its core count and load; the load average is printed alongside.

    .venv/bin/python benchmarks/tile_bench.py                 # starlette 1 and 2 workers, nginx
    .venv/bin/python benchmarks/tile_bench.py --workers 1 --duration 5 --no-fastapi

Needs ``wrk`` and (optionally) ``nginx`` on PATH (Debian: ``apt-get install -y wrk nginx``).
``create_app`` is also the app factory uvicorn imports in its worker processes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import pyvips  # noqa: E402

from backend.iiif import ResolvedImage, TileService, build_iiif_app  # noqa: E402

IMAGE_ID = "5f1d3c2b4a69788796a5b4c3d2e1f00112233445"
RECONSTRUCTION_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
SESSION_COOKIE = "session"
SESSION_TOKEN = "bench-session-token"
SIDE = 2304
ENV_CACHE = "SCLIC_BENCH_CACHE"
ENV_IMAGE = "SCLIC_BENCH_IMAGE"
ENV_RECONSTRUCTION = "SCLIC_BENCH_RECONSTRUCTION"
ENV_FRAMEWORK = "SCLIC_BENCH_FRAMEWORK"


# -- test images ---------------------------------------------------------------------------------


def photo_mosaic(side: int = SIDE, seed: int = 0) -> np.ndarray:
    """A photographic test image: scikit-image photos in a 3 x 3 grid, with sensor-like grain.

    Smooth synthetic images compress to unrealistically small tiles; photos plus mild noise
    give tile sizes (about 20 to 40 KB at JPEG quality 90, 4:4:4) like real dataset images.
    """
    from skimage import data

    photos = [
        data.astronaut(),
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.immunohistochemistry(),
        data.astronaut()[:, ::-1],
        data.coffee()[::-1],
        data.chelsea()[:, ::-1],
        data.rocket()[:, ::-1],
    ]
    cell = side // 3
    rows = []
    for r in range(3):
        row = []
        for c in range(3):
            photo = pyvips.Image.new_from_array(np.ascontiguousarray(photos[r * 3 + c]))
            scaled = photo.thumbnail_image(cell, height=cell, size="force")
            row.append(np.asarray(scaled)[:cell, :cell, :3])
        rows.append(np.concatenate(row, axis=1))
    mosaic = np.concatenate(rows, axis=0).astype(np.float32)
    rng = np.random.default_rng(seed)
    mosaic += rng.normal(0.0, 3.0, mosaic.shape).astype(np.float32)
    return np.clip(mosaic, 0, 255).astype(np.uint8)


def save_png(array: np.ndarray, path: Path) -> Path:
    pyvips.Image.new_from_array(np.ascontiguousarray(array)).copy(interpretation="srgb").pngsave(
        str(path)
    )
    return path


def make_pair(folder: Path) -> tuple[Path, Path]:
    """An original and a stand-in reconstruction (JPEG quality 20 round trip), as PNGs."""
    original = photo_mosaic()
    image = pyvips.Image.new_from_array(original).copy(interpretation="srgb")
    degraded = pyvips.Image.new_from_buffer(image.jpegsave_buffer(Q=20), "")
    return (
        save_png(original, folder / "original.png"),
        save_png(np.asarray(degraded)[..., :3], folder / "reconstruction.png"),
    )


# -- the application under test ------------------------------------------------------------------


def create_app() -> Any:
    """App factory for uvicorn: IIIF routes behind a simulated cached access check."""
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.routing import Mount

    cache = Path(os.environ[ENV_CACHE])
    original = Path(os.environ[ENV_IMAGE])
    reconstruction = Path(os.environ.get(ENV_RECONSTRUCTION, original))
    sessions = {SESSION_TOKEN: "labeler-1"}
    allowed = {
        ("labeler-1", IMAGE_ID): ResolvedImage(IMAGE_ID, "image", original),
        ("labeler-1", RECONSTRUCTION_ID): ResolvedImage(RECONSTRUCTION_ID, "image", reconstruction),
        ("labeler-1", RECONSTRUCTION_ID + "-diff"): ResolvedImage(
            RECONSTRUCTION_ID + "-diff", "diff", original, reconstruction
        ),
    }

    async def resolver(request: Request, identifier: str) -> ResolvedImage | None:
        user = sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            raise HTTPException(401, "login required")
        return allowed.get((user, identifier))

    iiif = build_iiif_app(TileService(cache), resolver)
    framework = os.environ.get(ENV_FRAMEWORK)
    if framework == "fastapi":
        from fastapi import FastAPI

        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.mount("/iiif/3", iiif)
        return app
    from starlette.applications import Starlette

    return Starlette(routes=[Mount("/iiif/3", app=iiif)])


# -- helpers shared with first_view_bench --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tile_paths(
    identifier: str, width: int, height: int, tile: int = 256, factors: set[int] | None = None
) -> list[str]:
    """Tile URL paths as OpenSeadragon builds them for an IIIF 3 image (all levels by default)."""
    paths = []
    factor = 1
    while True:
        level_w, level_h = math.ceil(width / factor), math.ceil(height / factor)
        wanted = factors is None or factor in factors
        if level_w < tile and level_h < tile:
            if wanted:
                paths.append(f"/iiif/3/{identifier}/full/{level_w},{level_h}/0/default.jpg")
            return paths
        step = tile * factor
        for y in range(0, height, step) if wanted else ():
            for x in range(0, width, step):
                w, h = min(step, width - x), min(step, height - y)
                sw = min(tile, level_w - x // factor)
                sh = min(tile, level_h - y // factor)
                paths.append(f"/iiif/3/{identifier}/{x},{y},{w},{h}/{sw},{sh}/0/default.jpg")
        factor *= 2


def start_server(
    port: int, workers: int, env: dict[str, str], framework: str = "starlette"
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tile_bench:create_app",
        "--factory",
        "--app-dir",
        str(Path(__file__).parent),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    full_env = {**os.environ, **env, ENV_FRAMEWORK: framework, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(command, env=full_env, start_new_session=True)


def wait_ready(url: str, timeout: float = 60.0) -> None:
    request = urllib.request.Request(url, headers={"Cookie": f"{SESSION_COOKIE}={SESSION_TOKEN}"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become ready")


def group_cpu_seconds(group: int) -> float:
    """User plus system CPU seconds of every live process in a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # fields[2] is the process group id
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, and its worker processes (its own session)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# -- load generation -----------------------------------------------------------------------------


def wrk_script(paths: list[str], folder: Path) -> Path:
    lines = ",\n".join(f'  "{p}"' for p in paths)
    script = folder / "tiles.lua"
    script.write_text(
        "local paths = {\n" + lines + "\n}\n"
        "local i = 0\n"
        f'local headers = {{ ["Cookie"] = "{SESSION_COOKIE}={SESSION_TOKEN}" }}\n'
        "request = function()\n"
        "  i = i + 1\n"
        "  if i > #paths then i = 1 end\n"
        '  return wrk.format("GET", paths[i], headers)\n'
        "end\n"
    )
    return script


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(text)
    return float(match[1]) * _UNITS[match[2]]


def run_wrk(
    port: int, script: Path, seconds: float, connections: int, threads: int
) -> dict[str, float]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
    ]
    command += ["-s", str(script), f"http://127.0.0.1:{port}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])}  # type: ignore[index]
    result["requests"] = float(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    for pct in ("50", "75", "90", "99"):
        result[f"p{pct}"] = _ms(re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non2xx"] = float(errors[1]) if errors else 0.0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = 0.0
    if socket_errors:
        result["socket_errors"] = float(sum(int(n) for n in re.findall(r"\d+", socket_errors[1])))
    return result


# -- nginx ---------------------------------------------------------------------------------------

NGINX_TILE_PATTERN = (
    r"^/iiif/3/(?<p>[0-9a-f]{2})(?<rest>[0-9a-f]{38})"
    r"/(?<r>[^/]+)/(?<s>[^/]+)/(?<o>[^/]+)/(?<q>[a-z]+)\.(?<f>jpg|png)$"
)


def start_nginx(port: int, cache: Path, folder: Path) -> subprocess.Popen[bytes] | None:
    nginx = shutil.which("nginx")
    if nginx is None:
        return None
    for path in [folder, *folder.parents]:
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o755)
    for directory, _, _ in os.walk(cache):
        Path(directory).chmod(0o755)
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    open_file_cache max=2000 inactive=60s;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    types {{ image/jpeg jpg; image/png png; }}
    server {{
        listen 127.0.0.1:{port};
        root {cache};
        location ~ "{NGINX_TILE_PATTERN}" {{
            if ($cookie_{SESSION_COOKIE} != "{SESSION_TOKEN}") {{ return 401; }}
            add_header Cache-Control "private, max-age=3600";
            try_files /$p/$p$rest/${{r}}_${{s}}_${{o}}_${{q}}.$f =404;
        }}
    }}
}}
"""
    )
    process = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(folder), "-g", "daemon off;"],
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    return process


# -- main ----------------------------------------------------------------------------------------


def measure(group: int, port: int, script: Path, args: argparse.Namespace) -> dict[str, float]:
    """One wrk run, plus the server's own CPU time per request (robust to a busy machine)."""
    before = group_cpu_seconds(group)
    result = run_wrk(port, script, args.duration, args.connections, args.threads)
    result["cpu_us"] = (group_cpu_seconds(group) - before) / result["requests"] * 1e6
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to try")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--no-fastapi", action="store_true", help="skip the FastAPI-mount run")
    parser.add_argument("--no-nginx", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")

    with tempfile.TemporaryDirectory(prefix="tile-bench-") as tmp:
        folder = Path(tmp)
        original, reconstruction = make_pair(folder)
        cache = folder / "cache"
        started = time.perf_counter()
        service = TileService(cache)
        resolved = ResolvedImage(IMAGE_ID, "image", original)
        written = service.pregenerate(resolved)
        print(
            f"pregenerate: {written} tiles for {SIDE}x{SIDE} in "
            f"{time.perf_counter() - started:.2f} s (includes PNG decode)"
        )
        paths = tile_paths(IMAGE_ID, SIDE, SIDE)
        sizes = [p.stat().st_size for p in (cache / IMAGE_ID[:2] / IMAGE_ID).iterdir()]
        print(f"{len(paths)} tile URLs; median tile {statistics.median(sizes) / 1024:.1f} KB")
        script = wrk_script(paths, folder)
        env = {ENV_CACHE: str(cache), ENV_IMAGE: str(original)}
        env[ENV_RECONSTRUCTION] = str(reconstruction)

        configs = [("starlette", int(w)) for w in args.workers.split(",")]
        if not args.no_fastapi:
            configs += [("fastapi", 1)]
        results: list[tuple[str, dict[str, float]]] = []
        for framework, workers in configs:
            port = free_port()
            server = start_server(port, workers, env, framework)
            try:
                wait_ready(f"http://127.0.0.1:{port}{paths[0]}")
                run_wrk(port, script, 3, args.connections, args.threads)  # warm every worker
                label = f"uvicorn {framework}, {workers} worker{'s' if workers > 1 else ''}"
                print(f"load {os.getloadavg()[0]:.2f}: measuring {label} ...", flush=True)
                results.append((label, measure(server.pid, port, script, args)))
            finally:
                stop(server)

        if not args.no_nginx:
            port = free_port()
            nginx = start_nginx(port, cache, folder)
            if nginx is None:
                print("nginx not found: skipping the comparison (apt-get install -y nginx)")
            else:
                try:
                    wait_ready(f"http://127.0.0.1:{port}{paths[0]}")
                    run_wrk(port, script, 2, args.connections, args.threads)
                    print(f"load {os.getloadavg()[0]:.2f}: measuring nginx ...", flush=True)
                    label = "nginx (same files, cookie check)"
                    results.append((label, measure(nginx.pid, port, script, args)))
                finally:
                    stop(nginx)

    report(results, args)


def report(results: list[tuple[str, dict[str, float]]], args: argparse.Namespace) -> None:
    nginx_rps = next((r["rps"] for label, r in results if label.startswith("nginx")), None)
    print()
    print(
        f"warm tiles, {args.connections} connections, wrk -t{args.threads}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'server':<36} {'tiles/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'cpu us/tile':>11} {'load':>5}" + (f" {'vs nginx':>8}" if nginx_rps else "")
    )
    for label, r in results:
        line = (
            f"{label:<36} {r['rps']:>8.0f} {r['p50']:>7.2f} {r['p90']:>7.2f} {r['p99']:>7.2f} "
            f"{int(r['non2xx'] + r['socket_errors']):>6} {r['cpu_us']:>11.1f} {r['load']:>5.2f}"
        )
        if nginx_rps:
            line += f" {r['rps'] / nginx_rps:>8.2f}"
        print(line)


if __name__ == "__main__":
    main()
