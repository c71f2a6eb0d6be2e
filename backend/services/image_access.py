"""Who may load which IIIF image, answered fast enough for tile traffic.

A tile request must not cost database round trips: the session cookie, the labeler's visible
identifiers and the identifier's files are each cached in memory for a few seconds. Changes
(an assignment, a logout) therefore reach tile access within ``ttl_s``; the JSON API checks the
database on every request.
"""

from __future__ import annotations

import re
import threading
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
from backend.models import Reconstruction, Role, SourceImage, SourceStatus
from backend.services import access
from backend.services import auth as auth_service
from backend.services.store import absolute

IDENTIFIER_RE = re.compile(r"[0-9a-f]{40}(-diff)?")

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        found = self._data.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl_s, value)

    def clear(self) -> None:
        with self._lock:
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
        viewer = self._viewers.get(key)
        if viewer is None:
            viewer = await run_in_threadpool(self._load_viewer, key)
            if viewer is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
        if viewer.role == Role.labeler:
            visible = self._visible.get(viewer.user_id)
            if visible is None:
                visible = await run_in_threadpool(self._load_visible, viewer)
            if visible is not None and identifier not in visible:
                return None
        resolved = self._images.get(identifier)
        if resolved is None:
            resolved = await run_in_threadpool(self._load_image, identifier)
        return resolved

    def _load_viewer(self, key: str) -> Viewer | None:
        with self._session_factory() as session:
            found = auth_service.session_for_key(session, key)
        viewer = None if found is None else Viewer(found[1].id, found[1].role)  # type: ignore[arg-type]
        if viewer is not None:
            self._viewers.put(key, viewer)
        return viewer

    def _load_visible(self, viewer: Viewer) -> frozenset[str] | None:
        with self._session_factory() as session:
            from backend.models import User

            user = session.get(User, viewer.user_id)
            visible = access.visible_identifiers(session, user) if user else frozenset()
        self._visible.put(viewer.user_id, visible)
        return visible

    def _load_image(self, identifier: str) -> ResolvedImage | None:
        if IDENTIFIER_RE.fullmatch(identifier) is None:
            return None
        name, _, diff = identifier.partition("-")
        with self._session_factory() as session:
            resolved = _resolve(session, identifier, name, bool(diff))
        if resolved is not None:
            self._images.put(identifier, resolved)
        return resolved


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
    source = session.exec(select(SourceImage).where(SourceImage.prepared_sha1 == name)).first()
    if source is None or source.status == SourceStatus.anonymised:
        return None
    return ResolvedImage(identifier, "image", absolute(source.prepared_path))
