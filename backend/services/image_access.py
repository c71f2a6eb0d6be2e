"""Who may load which IIIF image, answered fast enough for tile traffic.

A tile request must not cost database round trips: the session cookie, the labeler's visible
identifiers and the identifier's files are each cached in memory for a few seconds. Changes
(an assignment, a logout) therefore reach tile access within ``ttl_s``; the JSON API checks the
database on every request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import HTTPException, status
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from backend.api.deps import SESSION_COOKIE
from backend.core.db import get_engine
from backend.iiif.models import ResolvedImage
from backend.models import Reconstruction, Role, SourceImage, SourceStatus, User
from backend.services import access
from backend.services import auth as auth_service
from backend.services.store import absolute

IDENTIFIER_RE = re.compile(r"[0-9a-f]{40}(-diff)?")

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries are fresh for ``ttl_s``, then served stale while one refresh runs, and dropped
    after ``3 × ttl_s``. Lookups of a missing key share one load, so an expiry under heavy
    tile traffic costs one database query, not one per waiting request."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._pending: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, load: Callable[[K], V]) -> V:
        found = self._data.get(key)
        now = time.monotonic()
        if found is not None:
            loaded_at, value = found
            age = now - loaded_at
            if age < self.ttl_s:
                return value
            if age < 3 * self.ttl_s:
                if key not in self._pending:
                    self._pending[key] = asyncio.ensure_future(self._load(key, load))
                return value
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._load(key, load))
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Callable[[K], V]) -> V:
        try:
            value = await run_in_threadpool(load, key)
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)
            return value
        finally:
            self._pending.pop(key, None)

    def clear(self) -> None:
        self._data.clear()


@dataclass(frozen=True)
class Viewer:
    user_id: int
    role: Role


class ImageAccess:
    """Resolves ``(request, identifier)`` to a ``ResolvedImage`` for the IIIF routes."""

    def __init__(self, ttl_s: float = 10.0, session_factory: Callable[[], Session] | None = None):
        self._session_factory = session_factory or (lambda: Session(get_engine()))
        self._viewers: TTLCache[str, Viewer | None] = TTLCache(ttl_s)
        self._visible: TTLCache[int, frozenset[str] | None] = TTLCache(ttl_s)
        self._images: TTLCache[str, ResolvedImage | None] = TTLCache(ttl_s * 6)

    def forget(self) -> None:
        for cache in (self._viewers, self._visible, self._images):
            cache.clear()

    async def __call__(self, request: Request, identifier: str) -> ResolvedImage | None:
        key = request.cookies.get(SESSION_COOKIE)
        if not key:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
        viewer = await self._viewers.get(key, self._load_viewer)
        if viewer is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
        if viewer.role == Role.labeler:
            visible = await self._visible.get(viewer.user_id, self._load_visible)
            if visible is not None and identifier not in visible:
                return None
        return await self._images.get(identifier, self._load_image)

    def _load_viewer(self, key: str) -> Viewer | None:
        with self._session_factory() as session:
            found = auth_service.session_for_key(session, key)
        return None if found is None else Viewer(found[1].id, found[1].role)  # type: ignore[arg-type]

    def _load_visible(self, user_id: int) -> frozenset[str] | None:
        with self._session_factory() as session:
            user = session.get(User, user_id)
            return access.visible_identifiers(session, user) if user else frozenset()

    def _load_image(self, identifier: str) -> ResolvedImage | None:
        if IDENTIFIER_RE.fullmatch(identifier) is None:
            return None
        name, _, diff = identifier.partition("-")
        with self._session_factory() as session:
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
