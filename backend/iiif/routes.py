"""The IIIF Image API over HTTP: a small ASGI app to mount at ``/iiif/3``.

It is a plain ASGI callable rather than FastAPI path operations or even Starlette routes: the
tile URL is the hottest path in the application, and dependency injection, validation and a
router walking a list of patterns would cost more than the work itself. A warm tile is: split
the path, check the identifier pattern, await the application's resolver (its cached access
check), one memory lookup, and a response with pre-encoded headers.

Access: the resolver returns ``None`` for unknown identifiers and for images the user may not
see, and both become the same 404. An ``HTTPException`` it raises (401 for anonymous users)
propagates to the enclosing application's exception handlers, as for any mounted app; served
standalone it becomes a plain response with the exception's status, detail and headers.
``Access-Control-Allow-Origin: *`` is sent as the spec asks; it does not expose private images,
because browsers never honour a wildcard for requests that carry cookies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

from backend.iiif.models import IIIFError, RenderedImage, ResolvedImage, Resolver
from backend.iiif.service import CONTEXT, PROFILE, TileService

IDENTIFIER_RE = re.compile(r"[0-9a-f]{40}(?:-diff)?")
"""Blind names: 40 lowercase hex digits, optionally ``-diff`` for the difference map."""

JSON_LD = f'application/ld+json;profile="{CONTEXT}"'
PROFILE_LINK = f'<http://iiif.io/api/image/3/{PROFILE}.json>;rel="profile"'
_CORS = (b"access-control-allow-origin", b"*")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


class ImageResponse:
    """A minimal ASGI response whose headers are already encoded."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        body = b"" if scope["method"] == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})


def text_response(status: int, message: str, *extra: tuple[bytes, bytes]) -> ImageResponse:
    body = message.encode()
    headers = [_TEXT, (b"content-length", str(len(body)).encode()), _CORS, *extra]
    return ImageResponse(status, headers, body)


NOT_FOUND = text_response(404, "Not Found")


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``If-None-Match`` against our tag (RFC 9110, section 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _route_path(scope: Scope) -> str:
    """The path below the mount point (the same rule Starlette's routing uses)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


class IIIFApp:
    """ASGI app serving ``/{id}``, ``/{id}/info.json`` and ``/{id}/{region}/{size}/{rotation}/
    {quality}.{format}`` relative to where it is mounted."""

    def __init__(
        self,
        service: TileService,
        resolver: Resolver,
        *,
        identifier_pattern: re.Pattern[str] = IDENTIFIER_RE,
        max_age: int = 3600,
    ) -> None:
        self.service = service
        self.resolver = resolver
        self.identifier_pattern = identifier_pattern
        self._cache_control = (b"cache-control", f"private, max-age={max_age}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = await self.dispatch(scope, receive)
            await response(scope, receive, send)
        elif scope["type"] == "lifespan":  # only seen when served on its own
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            self.service.close()
            await send({"type": "lifespan.shutdown.complete"})

    async def dispatch(self, scope: Scope, receive: Receive) -> ImageResponse:
        parts = _route_path(scope).split("/")
        if parts[0] or not 2 <= len(parts) <= 6 or len(parts) in (4, 5):
            return NOT_FOUND
        identifier = parts[1]
        if len(parts) == 3 and parts[2] != "info.json":
            return NOT_FOUND
        if self.identifier_pattern.fullmatch(identifier) is None:
            return NOT_FOUND
        method = scope["method"]
        if method == "OPTIONS":
            return _preflight(scope)
        if method not in ("GET", "HEAD"):
            return text_response(405, "Method Not Allowed", (b"allow", b"GET, HEAD, OPTIONS"))
        scope["path_params"] = {"identifier": identifier}
        request = Request(scope, receive)
        try:
            resolved = await self.resolver(request, identifier)
        except HTTPException as exc:
            if "starlette.exception_handlers" in scope:
                raise  # mounted in an application: its handlers decide how a 401 looks
            extra = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
            return text_response(exc.status_code, str(exc.detail), *extra)
        if resolved is None:
            return NOT_FOUND
        if len(parts) == 6:
            return await self.image(scope, resolved, parts)
        if len(parts) == 3:
            return await self.info(request, resolved)
        url = str(request.url.replace(query="", fragment="")) + "/info.json"
        return ImageResponse(303, [(b"location", url.encode()), (b"content-length", b"0"), _CORS])

    async def image(self, scope: Scope, resolved: ResolvedImage, parts: list[str]) -> ImageResponse:
        _, _, region, size, rotation, file = parts
        quality, dot, fmt = file.rpartition(".")
        hit = self.service.cached(resolved.identifier, region, size, rotation, quality, fmt)
        if hit is None:
            if not dot:
                return text_response(400, "format: missing, expected {quality}.{format}")
            try:
                hit = await run_in_threadpool(
                    self.service.render, resolved, region, size, rotation, quality, fmt
                )
            except IIIFError as exc:
                return text_response(exc.status, exc.message)
        return self._image_response(hit, _header(scope, b"if-none-match"))

    async def info(self, request: Request, resolved: ResolvedImage) -> ImageResponse:
        base_url = str(request.url.replace(query="", fragment="")).removesuffix("/info.json")
        try:
            info = await run_in_threadpool(self.service.info_json, resolved, base_url)
            self.service.prefetch(resolved)
        except IIIFError as exc:
            return text_response(exc.status, exc.message)
        body = json.dumps(info).encode()
        media_type = _info_media_type(_header(request.scope, b"accept") or "")
        headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            _CORS,
            self._cache_control,
            (b"link", PROFILE_LINK.encode()),
            (b"vary", b"Accept"),
        ]
        return ImageResponse(200, headers, body)

    def _image_response(self, hit: RenderedImage, if_none_match: str | None) -> ImageResponse:
        etag = (b"etag", hit.etag.encode())
        if if_none_match is not None and etag_matches(if_none_match, hit.etag):
            return ImageResponse(304, [etag, self._cache_control, _CORS])
        headers = [
            (b"content-type", hit.media_type.encode()),
            (b"content-length", str(len(hit.data)).encode()),
            etag,
            self._cache_control,
            _CORS,
        ]
        return ImageResponse(200, headers, hit.data)


def _info_media_type(accept: str) -> str:
    """JSON-LD unless the client asks for plain JSON and not JSON-LD (section 5.1)."""
    if "application/json" in accept and "application/ld+json" not in accept:
        return "application/json"
    return JSON_LD


def _preflight(scope: Scope) -> ImageResponse:
    headers = [
        _CORS,
        (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
        (b"access-control-max-age", b"86400"),
    ]
    asked = _header(scope, b"access-control-request-headers")
    if asked:
        headers.append((b"access-control-allow-headers", asked.encode("latin-1")))
    return ImageResponse(204, headers)


def build_iiif_app(
    service: TileService,
    resolver: Resolver,
    *,
    identifier_pattern: re.Pattern[str] = IDENTIFIER_RE,
    max_age: int = 3600,
) -> IIIFApp:
    """The ASGI app to mount at ``/iiif/3``: ``app.mount("/iiif/3", build_iiif_app(...))``.

    ``resolver(request, identifier)`` returns a ``ResolvedImage`` or ``None`` (404), or raises
    an ``HTTPException`` (401 for anonymous users) that the application's handlers render.
    ``identifier_pattern`` must only admit names that are safe as one path segment.
    """
    return IIIFApp(service, resolver, identifier_pattern=identifier_pattern, max_age=max_age)


def build_iiif_routes(
    service: TileService,
    resolver: Resolver,
    *,
    identifier_pattern: re.Pattern[str] = IDENTIFIER_RE,
    max_age: int = 3600,
) -> Sequence[BaseRoute]:
    """The same app as a route list for ``Mount("/iiif/3", routes=build_iiif_routes(...))``."""
    app = build_iiif_app(service, resolver, identifier_pattern=identifier_pattern, max_age=max_age)
    return [Mount("", app=app, name="iiif")]
