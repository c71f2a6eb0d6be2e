"""Saving boxes: 20 concurrent labelers, each creating, moving and deleting boxes on her own
batch through the JSON API. Prints p50/p99 latency and checks that no write was lost.

Target (issue 2): p99 ≤ 30 ms with 20 concurrent labelers; zero lost writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._server import (  # noqa: E402
    Connection,
    percentile,
    scratch_database,
    uvicorn_server,
)

LABELERS = 20
OPS_PER_LABELER = 60
PASSWORD = "bench-password"


def seed(prefix: str, seed0: int) -> list[tuple[str, str]]:
    """Twenty labelers, each with one batch of one image; returns (username, blind name)."""
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.models import Role
    from backend.services.auth import create_user
    from tests.utils.factories import make_batch

    out = []
    with Session(get_engine()) as session:
        for i in range(LABELERS):
            user = create_user(session, f"{prefix}{i}", PASSWORD, Role.labeler)
            fixture = make_batch(session, user, n_items=1, name=f"B{i}", seed0=seed0 + i)
            out.append((user.username, fixture.items[0].blind_name))
    return out


async def labeler(
    base: str, username: str, blind: str, latencies: list[float], think_s: float
) -> tuple[int, int]:
    """Returns (boxes the server confirmed as live, boxes it lists at the end).

    ``think_s`` is the mean pause between two actions (exponentially distributed); 0 sends the
    next write as soon as the last one is answered, far faster than any person draws boxes.
    Each labeler logs in, then writes over one keep-alive connection, as a browser tab does.
    """
    rng = random.Random(username)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        r = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        r.raise_for_status()
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        headers = {
            "Cookie": cookie,
            "X-CSRF-Token": r.json()["csrf_token"],
            "Content-Type": "application/json",
        }
    connection = await Connection.open(base)

    async def call(method: str, path: str, body: object = None) -> object:
        payload = b"" if body is None else json.dumps(body).encode()
        status, answer = await connection.request(method, path, headers, payload)
        if status >= 400:
            raise RuntimeError(f"{username}: {method} {path} → {status} {answer[:200]!r}")
        return json.loads(answer) if answer else None

    live: dict[str, int] = {}
    try:
        for op in range(OPS_PER_LABELER):
            if think_s:
                await asyncio.sleep(rng.expovariate(1 / think_s))
            t0 = time.perf_counter()
            if op % 3 == 2 and live:
                box_id, version = next(iter(live.items()))
                box = {"x": op, "y": op, "w": 20, "h": 20, "version": version}
                moved = await call("PATCH", f"/api/v1/annotations/{box_id}", box)
                live[box_id] = moved["version"]  # type: ignore[index]
            elif op % 7 == 6 and live:
                box_id, version = live.popitem()
                await call("DELETE", f"/api/v1/annotations/{box_id}?version={version}")
            else:
                box = {"x": op, "y": 2 * op, "w": 10 + op, "h": 12}
                made = await call("POST", f"/api/v1/items/{blind}/annotations", box)
                live[made["id"]] = made["version"]  # type: ignore[index]
            latencies.append((time.perf_counter() - t0) * 1000)
        listed = await call("GET", f"/api/v1/items/{blind}/annotations")
    finally:
        connection.close()
    stored = {b["id"]: b["version"] for b in listed["data"]}  # type: ignore[index]
    assert stored == live, f"{username}: server has {stored}, client expected {live}"
    return len(live), len(stored)


async def main_async(base: str, users: list[tuple[str, str]], think_s: float) -> None:
    latencies: list[float] = []
    t0 = time.perf_counter()
    results = await asyncio.gather(*(labeler(base, u, b, latencies, think_s) for u, b in users))
    elapsed = time.perf_counter() - t0
    expected = sum(r[0] for r in results)
    stored = sum(r[1] for r in results)
    print(
        f"box saves: {len(latencies)} writes by {LABELERS} concurrent labelers in {elapsed:.1f} s"
    )
    print(
        f"latency ms: p50 {percentile(latencies, 50):.1f}  p95 {percentile(latencies, 95):.1f}  "
        f"p99 {percentile(latencies, 99):.1f}  max {max(latencies):.1f}   (target p99 ≤ 30)"
    )
    print(f"lost writes: {expected - stored} (boxes expected {expected}, stored {stored})")


def main() -> None:
    with scratch_database():
        workers_list = [int(w) for w in os.environ.get("BENCH_WORKERS", "1,2").split(",")]
        for workers in workers_list:
            for think_s in (1.0, 0.0):
                users = seed(f"w{workers}t{think_s:.0f}lab", 100 * workers + int(50 * think_s))
                with uvicorn_server(workers=workers) as (base, _process):
                    print(f"--- uvicorn workers: {workers}, load {os.getloadavg()[0]:.2f}")
                    asyncio.run(main_async(base, users, think_s))


if __name__ == "__main__":
    main()
