"""Fixtures for the IIIF service: real photographs from scikit-image, a service, an app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import pyvips
from skimage import data
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Mount
from starlette.testclient import TestClient

from backend.iiif import ResolvedImage, TileService, build_iiif_app

ASTRONAUT_ID = "a" * 40
CHELSEA_ID = "c" * 40
COFFEE_ID = "0123456789abcdef0123456789abcdef01234567"
HIDDEN_ID = "f" * 40
DIFF_ID = ASTRONAUT_ID + "-diff"


def save_png(array: np.ndarray, path: Path) -> Path:
    pyvips.Image.new_from_array(np.ascontiguousarray(array)).copy(
        interpretation="srgb" if array.ndim == 3 else "b-w"
    ).pngsave(str(path))
    return path


PATCH = (slice(100, 200), slice(150, 300))


def altered(original: np.ndarray) -> np.ndarray:
    """A stand-in reconstruction with known errors: every channel off by exactly 3, and the red
    channel off by exactly 40 inside ``PATCH`` (each step away from the nearer end of 0..255)."""
    out = original.astype(np.int16)
    out = np.where(out >= 128, out - 3, out + 3)
    red = original[PATCH][..., 0].astype(np.int16)
    out[PATCH + (0,)] = np.where(red >= 128, red - 40, red + 40)
    return out.astype(np.uint8)


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    save_png(data.astronaut(), folder / "astronaut.png")
    save_png(altered(data.astronaut()), folder / "astronaut-reconstruction.png")
    save_png(data.chelsea(), folder / "chelsea.png")
    save_png(data.coffee(), folder / "coffee.png")
    return folder


@pytest.fixture
def images(image_dir: Path) -> dict[str, ResolvedImage]:
    return {
        ASTRONAUT_ID: ResolvedImage(ASTRONAUT_ID, "image", image_dir / "astronaut.png"),
        CHELSEA_ID: ResolvedImage(CHELSEA_ID, "image", image_dir / "chelsea.png"),
        COFFEE_ID: ResolvedImage(COFFEE_ID, "image", image_dir / "coffee.png"),
        HIDDEN_ID: ResolvedImage(HIDDEN_ID, "image", image_dir / "coffee.png"),
        DIFF_ID: ResolvedImage(
            DIFF_ID,
            "diff",
            image_dir / "astronaut.png",
            image_dir / "astronaut-reconstruction.png",
        ),
    }


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "tiles"


@pytest.fixture
def service(cache_dir: Path) -> TileService:
    return TileService(cache_dir)


@pytest.fixture
def client(service: TileService, images: dict[str, ResolvedImage]) -> Iterator[TestClient]:
    """An app whose resolver mimics the real one: 401 without a session, 404 when not allowed."""

    async def resolver(request: Request, identifier: str) -> ResolvedImage | None:
        if request.cookies.get("session") != "labeler":
            raise HTTPException(401, "login required")
        if identifier == HIDDEN_ID:
            return None
        return images.get(identifier)

    app = Starlette(routes=[Mount("/iiif/3", app=build_iiif_app(service, resolver))])
    with TestClient(app, base_url="http://testserver") as test_client:
        test_client.cookies.set("session", "labeler")
        yield test_client
