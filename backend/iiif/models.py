"""Value types shared by the IIIF image service and the application that resolves identifiers.

The service never decides who may see an image: the application turns an identifier into a
``ResolvedImage`` (or ``None``), and everything below that works on resolved files only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from starlette.requests import Request

ImageKind = Literal["image", "diff"]


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """An identifier the application has vouched for, with the files behind it.

    For ``kind == "image"`` ``path`` is the PNG to serve. For ``kind == "diff"`` ``path`` is the
    original PNG and ``other_path`` the reconstruction PNG; the service derives the difference
    map from the two.
    """

    identifier: str
    kind: ImageKind
    path: Path
    other_path: Path | None = None


class ImageSource(Protocol):
    """What the application implements: identifier and user in, resolved image or ``None`` out.

    ``None`` covers both "unknown" and "not allowed", so that responses cannot reveal which
    identifiers exist.
    """

    def resolve(self, identifier: str, user: Any) -> ResolvedImage | None: ...


Resolver = Callable[[Request, str], Awaitable[ResolvedImage | None]]
"""The async form the routes call: request and identifier in, resolved image or ``None`` out.

It may raise an ``HTTPException`` (401 for anonymous users); the application's exception
handlers turn that into a response.
"""


def make_etag(data: bytes) -> str:
    """A strong entity tag derived from the bytes, so equal renderings share a tag."""
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """Encoded image bytes ready to send, with their media type and entity tag."""

    data: bytes
    media_type: str
    etag: str = field(default="")

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", make_etag(self.data))


class IIIFError(Exception):
    """A request the service refuses, with the HTTP status the IIIF specification asks for.

    400 for malformed or out-of-range parameters, 404 for images that cannot be served, 501 for
    valid requests this server does not implement. The message is shown to clients, so it never
    contains file names.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
