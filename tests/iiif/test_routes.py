"""The HTTP surface under /iiif/3: status codes, headers, access, conditional requests."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException
from PIL import Image
from starlette.requests import Request
from starlette.routing import Mount
from starlette.testclient import TestClient

from backend.iiif import (
    ResolvedImage,
    TileService,
    build_iiif_app,
    build_iiif_routes,
)
from tests.iiif.conftest import ASTRONAUT_ID, CHELSEA_ID, COFFEE_ID, DIFF_ID, HIDDEN_ID

TILE = f"/iiif/3/{ASTRONAUT_ID}/0,0,256,256/256,256/0/default.jpg"


def test_info_json_headers_and_id(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{COFFEE_ID}/info.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["link"] == '<http://iiif.io/api/image/3/level2.json>;rel="profile"'
    info = response.json()
    assert info["id"] == f"http://testserver/iiif/3/{COFFEE_ID}"
    assert (info["width"], info["height"]) == (600, 400)


def test_info_json_plain_json_when_asked(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{COFFEE_ID}/info.json", headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    response = client.get(
        f"/iiif/3/{COFFEE_ID}/info.json", headers={"Accept": "application/ld+json"}
    )
    assert response.headers["content-type"].startswith("application/ld+json")


def test_base_uri_redirects_to_info(client: TestClient) -> None:
    response = client.get(f"/iiif/3/{COFFEE_ID}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"http://testserver/iiif/3/{COFFEE_ID}/info.json"


def test_tile_headers(client: TestClient, cache_dir: Path) -> None:
    response = client.get(TILE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "private, max-age=3600"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["etag"].startswith('"') and len(response.headers["etag"]) > 10
    assert int(response.headers["content-length"]) == len(response.content)
    assert Image.open(io.BytesIO(response.content)).size == (256, 256)
    for value in response.headers.values():
        assert str(cache_dir) not in value and ".png" not in value and "astronaut" not in value


def test_etag_and_conditional_requests(client: TestClient) -> None:
    first = client.get(TILE)
    etag = first.headers["etag"]
    again = client.get(TILE)
    assert again.headers["etag"] == etag and again.content == first.content
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = client.get(TILE, headers={"If-None-Match": header})
        assert not_modified.status_code == 304, header
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == etag
        assert not_modified.headers["cache-control"] == "private, max-age=3600"
    assert client.get(TILE, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_head_and_preflight(client: TestClient) -> None:
    head = client.head(TILE)
    assert head.status_code == 200 and head.content == b""
    preflight = client.options(
        TILE,
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "range"


def test_difference_map_is_served(client: TestClient) -> None:
    info = client.get(f"/iiif/3/{DIFF_ID}/info.json").json()
    assert (info["width"], info["height"]) == (512, 512)
    tile = client.get(f"/iiif/3/{DIFF_ID}/full/128,128/0/default.png")
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/full/max/0/default.tif", 400),
        ("/full/max/0/default", 400),
        ("/nonsense/max/0/default.jpg", 400),
        ("/full/601,/0/default.jpg", 400),
        ("/full/max/45/grey.jpg", 400),
        ("/full/max/999/default.jpg", 400),
    ],
)
def test_bad_parameters(client: TestClient, path: str, status: int) -> None:
    response = client.get(f"/iiif/3/{COFFEE_ID}{path}")
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.text and "/" not in response.text.split(":")[0]


@pytest.mark.parametrize(
    "identifier",
    [
        "b" * 40,  # well formed, unknown
        HIDDEN_ID,  # exists, not allowed: indistinguishable from unknown
        "%2E%2E",
        "..",
        "...",
        "A" * 40,
        "a" * 39,
        "a" * 41,
        ASTRONAUT_ID + "-diff-x",
        ASTRONAUT_ID + "%2Fetc",
        "%2Fetc%2Fpasswd",
        "a" * 40 + "%00",
        "[frob]",
    ],
)
def test_unknown_or_malformed_identifiers_are_404(client: TestClient, identifier: str) -> None:
    for suffix in ("/info.json", "", "/full/max/0/default.jpg"):
        response = client.get(f"/iiif/3/{identifier}{suffix}", follow_redirects=False)
        assert response.status_code == 404, (identifier, suffix)
        assert response.text == "Not Found"


def test_slashes_and_dot_segments_never_escape(client: TestClient) -> None:
    for path in (
        "/iiif/3/../../etc/passwd",
        f"/iiif/3/{ASTRONAUT_ID}/../{COFFEE_ID}/info.json/x",
        "/iiif/3/a/b/full/max/0/default.jpg",
        f"/iiif/3/{ASTRONAUT_ID}/full/max/0/default.jpg/extra",
    ):
        assert client.get(path, follow_redirects=False).status_code == 404, path


def test_anonymous_gets_the_resolvers_401(client: TestClient) -> None:
    client.cookies.clear()
    assert client.get(TILE).status_code == 401
    assert client.get(f"/iiif/3/{COFFEE_ID}/info.json").status_code == 401


def test_warm_tile_comes_from_the_disk_cache(client: TestClient, service: TileService) -> None:
    client.get(TILE)
    assert service.cached(ASTRONAUT_ID, "0,0,256,256", "256,256", "0", "default", "jpg")
    assert service.sources._items  # decoded once for the cold request


def test_mounted_in_fastapi_with_application_exceptions(
    service: TileService, images: dict[str, ResolvedImage]
) -> None:
    async def resolver(request: Request, identifier: str) -> ResolvedImage | None:
        if "session" not in request.cookies:
            raise HTTPException(status_code=401, detail="login required")
        return images.get(identifier)

    mounted = FastAPI()
    mounted.mount("/iiif/3", build_iiif_app(service, resolver))
    listed = FastAPI()
    listed.router.routes.append(Mount("/iiif/3", routes=list(build_iiif_routes(service, resolver))))
    for app in (mounted, listed):
        check_fastapi_app(app)


def check_fastapi_app(app: FastAPI) -> None:
    with TestClient(app) as test_client:
        unauthorised = test_client.get(TILE)
        assert unauthorised.status_code == 401
        assert unauthorised.json() == {"detail": "login required"}  # FastAPI's own handler
        test_client.cookies.set("session", "x")
        assert test_client.get(TILE).status_code == 200
        info = test_client.get(f"/iiif/3/{COFFEE_ID}/info.json").json()
        assert info["id"] == f"http://testserver/iiif/3/{COFFEE_ID}"


def test_other_methods_are_405(client: TestClient) -> None:
    response = client.post(TILE)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_info_json_starts_decoding_in_the_background(
    client: TestClient, service: TileService, images: dict[str, ResolvedImage]
) -> None:
    client.get(f"/iiif/3/{CHELSEA_ID}/info.json")
    deadline = time.monotonic() + 10
    while not service.sources._items and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(service.sources._items) == 1
    # Once something was rendered for an identifier, info.json no longer decodes ahead.
    client.get(f"/iiif/3/{CHELSEA_ID}/full/64,/0/default.jpg")
    assert not service.prefetch(images[CHELSEA_ID])


def test_standalone_app_renders_the_resolvers_http_exception(
    service: TileService, images: dict[str, ResolvedImage]
) -> None:
    async def resolver(request: Request, identifier: str) -> ResolvedImage | None:
        raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Cookie"})

    with TestClient(build_iiif_app(service, resolver), root_path="") as test_client:
        response = test_client.get(f"/{COFFEE_ID}/info.json")
    assert response.status_code == 401
    assert response.text == "login required"
    assert response.headers["www-authenticate"] == "Cookie"
