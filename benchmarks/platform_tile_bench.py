"""Warm tiles through the whole platform: ``backend.main:create_app`` on PostgreSQL, a labeler's
real session cookie, the real access check (``ImageAccess``), 32 concurrent connections.
Prints tiles/s and latency percentiles, and the ratio to nginx serving the same tile files in
the same run.

Target (issue 2): ≥ 3,000 tiles/s and p99 ≤ 20 ms on the 2-core machine.
Needs ``wrk`` and ``nginx`` (Debian packages).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _server import free_port, scratch_database, uvicorn_server  # noqa: E402
from tile_bench import SESSION_COOKIE as NGINX_COOKIE  # noqa: E402
from tile_bench import SESSION_TOKEN as NGINX_TOKEN  # noqa: E402
from tile_bench import make_pair, measure, run_wrk, start_nginx, stop, tile_paths  # noqa: E402

PASSWORD = "bench-password"


def seed(folder: Path) -> tuple[str, str, int]:
    """A labeler with one batch holding a 2304² pair; returns (blind name, original id, side)."""
    from PIL import Image
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.models import Assignment, Batch, BatchItem, RateSetting, Role
    from backend.services.auth import create_user
    from backend.services.images import (
        get_or_create_dataset,
        register_reconstruction,
        register_source,
    )

    original, reconstruction = make_pair(folder)
    side = Image.open(original).size[0]
    with Session(get_engine()) as session:
        user = create_user(session, "labeler", PASSWORD, Role.labeler)
        source, _ = register_source(
            session,
            get_or_create_dataset(session, "bench"),
            original_name="bench.png",
            original_bytes=original.read_bytes(),
            original_suffix=".png",
            prepared_png=original.read_bytes(),
            width=side,
            height=side,
        )
        recon = register_reconstruction(
            session,
            source,
            codec_id="91",
            setting=RateSetting.low,
            png_bytes=reconstruction.read_bytes(),
            bitstream=None,
            width=side,
            height=side,
        )
        batch = Batch(number=1, name="bench")
        session.add(batch)
        session.flush()
        session.add(BatchItem(batch_id=batch.id, position=0, reconstruction_id=recon.id))
        session.add(Assignment(batch_id=batch.id, labeler_id=user.id))
        session.commit()
        return recon.blind_name, source.prepared_sha1, side


def wrk_script(paths: list[str], cookie: str, folder: Path) -> Path:
    """``cookie`` is the whole ``name=value`` pair."""
    lines = ",\n".join(f'  "{p}"' for p in paths)
    script = folder / "tiles.lua"
    script.write_text(
        "local paths = {\n" + lines + "\n}\nlocal i = 0\n"
        f'local headers = {{ ["Cookie"] = "{cookie}" }}\n'
        "request = function()\n  i = i + 1\n  if i > #paths then i = 1 end\n"
        '  return wrk.format("GET", paths[i], headers)\nend\n'
    )
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    results = []
    with scratch_database() as (_url, data), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blind, original_id, side = seed(folder)
        from backend.iiif import ResolvedImage
        from backend.main import tile_service

        service = tile_service()
        original = next((data / "store" / "sources").rglob("*.png"))
        started = time.perf_counter()
        service.pregenerate(ResolvedImage(original_id, "image", original))
        print(f"pyramid of the {side}² original in {time.perf_counter() - started:.2f} s")
        paths = tile_paths(original_id, side, side)
        for workers in (int(w) for w in args.workers.split(",")):
            with uvicorn_server(workers) as (base, server):
                login = httpx.post(
                    base + "/api/v1/auth/login", json={"username": "labeler", "password": PASSWORD}
                )
                cookie = login.cookies["sclic_session"]
                check = httpx.get(base + paths[0], cookies={"sclic_session": cookie})
                assert check.status_code == 200, check.status_code
                denied = httpx.get(base + paths[0])
                assert denied.status_code == 401, denied.status_code
                port = int(base.rsplit(":", 1)[1])
                script = wrk_script(paths, f"sclic_session={cookie}", folder)
                run_wrk(port, script, 3, args.connections, args.threads)  # warm every worker
                label = f"sclic app, {workers} worker{'s' if workers > 1 else ''}"
                print(f"load {os.getloadavg()[0]:.2f}: measuring {label} ...", flush=True)
                results.append((label, measure(server.pid, port, script, args)))
        port = free_port()
        for path in (data, data / "tiles"):
            path.chmod(0o755)  # nginx's worker user reads the same files
        nginx = start_nginx(port, data / "tiles", folder)
        if nginx is not None:
            try:
                time.sleep(1)
                # nginx checks the bench's fixed cookie, as a stand-in for an access check.
                script = wrk_script(paths, f"{NGINX_COOKIE}={NGINX_TOKEN}", folder)
                run_wrk(port, script, 2, args.connections, args.threads)
                results.append(("nginx (same files)", measure(nginx.pid, port, script, args)))
            finally:
                stop(nginx)
    nginx_rps = next((r["rps"] for label, r in results if label.startswith("nginx")), None)
    print(
        f"\nwarm tiles through the platform, {args.connections} connections, {os.cpu_count()} CPUs"
    )
    print(
        f"{'server':<24} {'tiles/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'cpu us':>7} {'load':>5} {'vs nginx':>8}"
    )
    for label, r in results:
        ratio = f"{r['rps'] / nginx_rps:.3f}" if nginx_rps else "-"
        print(
            f"{label:<24} {r['rps']:>8.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} "
            f"{int(r['non2xx'] + r['socket_errors']):>6} {r['cpu_us']:>7.1f} {r['load']:>5.2f} "
            f"{ratio:>8}"
        )


if __name__ == "__main__":
    main()
