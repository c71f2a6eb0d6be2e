"""Who may load which IIIF image, answered fast enough for tile traffic.

Every tile request is checked, and a first view asks for dozens of tiles of three images at
once. A database check per tile (session, assignments, files) would not leave the platform's
warm-tile target (``benchmarks/platform_tile_bench.py``: 3,000 tiles/s with p99 ≤ 20 ms at 32
clients) within reach, so the answer for one session cookie and one identifier (the image, no
image, or not logged in) is kept in memory for ``ttl_s``: one check per image a tab views, not
one per tile. Changes (an assignment, a logout, a removal) therefore reach tile access within
``ttl_s``; the JSON API checks the database on every request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from fastapi import HTTPException, status
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from backend.core.db import get_engine
from backend.core.security import SESSION_COOKIE
from backend.iiif.models import ResolvedImage
from backend.models import Reconstruction, SourceImage, SourceStatus
from backend.services import access
from backend.services import auth as auth_service
from backend.services.store import absolute

IDENTIFIER_RE = re.compile(r"[0-9a-f]{40}(-diff)?")

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries are fresh for ``ttl_s``. Lookups of a missing or expired key share one load, so
    a viewer's six parallel tile requests cost one database check, not six; a failed load is
    not kept."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K, load: Callable[[K], V]) -> V:
        now = time.monotonic()
        found = self._data.get(key)
        if found is not None and now - found[0] < self.ttl_s:
            loading = found[1]
        else:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            loading = asyncio.ensure_future(run_in_threadpool(load, key))
            self._data[key] = (now, loading)
            loading.add_done_callback(lambda done: self._forget_failure(key, done))
        return await asyncio.shield(loading)

    def _forget_failure(self, key: K, done: asyncio.Future[V]) -> None:
        if done.cancelled() or done.exception() is not None:
            found = self._data.get(key)
            if found is not None and found[1] is done:
                del self._data[key]

    def clear(self) -> None:
        self._data.clear()


class NotLoggedIn:
    """The answer for a session cookie that names no live session."""


NOT_LOGGED_IN = NotLoggedIn()
Answer = ResolvedImage | None | NotLoggedIn


class ImageAccess:
    """Resolves ``(request, identifier)`` to a ``ResolvedImage`` for the IIIF routes."""

    def __init__(self, ttl_s: float = 10.0, session_factory: Callable[[], Session] | None = None):
        self._session_factory = session_factory or (lambda: Session(get_engine()))
        self._answers: TTLCache[tuple[str, str], Answer] = TTLCache(ttl_s)

    def forget(self) -> None:
        self._answers.clear()

    async def __call__(self, request: Request, identifier: str) -> ResolvedImage | None:
        key = request.cookies.get(SESSION_COOKIE)
        if not key:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
        answer = await self._answers.get((key, identifier), self._load)
        if isinstance(answer, NotLoggedIn):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
        return answer

    def _load(self, key: tuple[str, str]) -> Answer:
        session_key, identifier = key
        with self._session_factory() as session:
            found = auth_service.session_for_key(session, session_key)
            if found is None:
                return NOT_LOGGED_IN
            if IDENTIFIER_RE.fullmatch(identifier) is None:
                return None
            visible = access.visible_identifiers(session, found[1])
            if visible is not None and identifier not in visible:
                return None
            name, _, diff = identifier.partition("-")
            return _resolve(session, identifier, name, bool(diff))


def _resolve(session: Session, identifier: str, name: str, diff: bool) -> ResolvedImage | None:
    row = session.exec(
        select(Reconstruction, SourceImage)
        .join(SourceImage, SourceImage.id == Reconstruction.source_image_id)  # type: ignore[arg-type]
        .where(Reconstruction.blind_name == name)
    ).first()
    if row is not None:
        recon, source = row
        if source.status == SourceStatus.anonymised:
            return None
        if diff:
            return ResolvedImage(
                identifier, "diff", absolute(source.prepared_path), absolute(recon.png_path)
            )
        return ResolvedImage(identifier, "image", absolute(recon.png_path))
    if diff:
        return None
    original = session.exec(select(SourceImage).where(SourceImage.prepared_sha1 == name)).first()
    if original is None or original.status == SourceStatus.anonymised:
        return None
    return ResolvedImage(identifier, "image", absolute(original.prepared_path))
