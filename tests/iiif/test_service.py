"""TileService: image information, rendered sizes and pixels, caches, difference maps."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image
from skimage import data

from backend.iiif import (
    DiffScale,
    IIIFError,
    ResolvedImage,
    TileService,
    legend_png,
    viridis_lut,
)
from tests.iiif.conftest import ASTRONAUT_ID, CHELSEA_ID, COFFEE_ID, DIFF_ID, PATCH


def decode(data_bytes: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data_bytes)))


def test_info_json(service: TileService, images: dict[str, ResolvedImage]) -> None:
    base = "https://example.org/iiif/3/" + COFFEE_ID
    info = service.info_json(images[COFFEE_ID], base + "/")
    assert list(info)[0] == "@context"
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == base
    assert info["type"] == "ImageService3"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert info["profile"] == "level2"
    assert (info["width"], info["height"]) == (600, 400)
    assert info["tiles"] == [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4]}]
    assert info["sizes"] == [
        {"width": 150, "height": 100},
        {"width": 300, "height": 200},
        {"width": 600, "height": 400},
    ]
    assert (info["maxWidth"], info["maxHeight"]) == (1200, 800)
    assert info["extraFormats"] == ["webp"]
    assert info["extraQualities"] == ["color", "gray", "bitonal"]
    assert "sizeUpscaling" in info["extraFeatures"]


def test_info_json_without_upscaling(cache_dir: Path, images: dict[str, ResolvedImage]) -> None:
    info = TileService(cache_dir, max_upscale=0).info_json(images[COFFEE_ID], "http://x/i")
    assert "maxWidth" not in info and "sizeUpscaling" not in info["extraFeatures"]


def test_grey_source_does_not_claim_color(service: TileService, tmp_path: Path) -> None:
    path = tmp_path / "camera.png"
    pyvips.Image.new_from_array(data.camera()).pngsave(str(path))
    resolved = ResolvedImage("e" * 40, "image", path)
    assert service.info_json(resolved, "http://x/i")["extraQualities"] == ["gray", "bitonal"]
    # A colour request on a grey image still succeeds (section 4.4).
    rendered = service.render(resolved, "full", "64,", "0", "color", "png")
    assert decode(rendered.data).shape == (64, 64)


def osd_tile_urls(width: int, height: int, tile: int = 256) -> list[tuple[str, str, int, int]]:
    """The region and size strings OpenSeadragon builds for every tile, with expected sizes."""
    urls = []
    factor = 1
    while True:
        level_w, level_h = math.ceil(width / factor), math.ceil(height / factor)
        step = tile * factor
        if level_w < tile and level_h < tile:
            urls.append(("full", f"{level_w},{level_h}", level_w, level_h))
            break
        for y in range(0, height, step):
            for x in range(0, width, step):
                w, h = min(step, width - x), min(step, height - y)
                sw = min(tile, level_w - x // factor)
                sh = min(tile, level_h - y // factor)
                urls.append((f"{x},{y},{w},{h}", f"{sw},{sh}", sw, sh))
        factor *= 2
    return urls


@pytest.mark.parametrize("identifier", [ASTRONAUT_ID, CHELSEA_ID, COFFEE_ID])
def test_every_tile_has_the_requested_size(
    service: TileService, images: dict[str, ResolvedImage], identifier: str
) -> None:
    resolved = images[identifier]
    width, height, _ = service.dimensions(resolved)
    for region, size, w, h in osd_tile_urls(width, height):
        rendered = service.render(resolved, region, size, "0", "default", "jpg")
        assert rendered.media_type == "image/jpeg"
        assert decode(rendered.data).shape == (h, w, 3), (region, size)


def test_tile_pixels_match_the_source(service: TileService, images: dict[str, ResolvedImage]):
    rendered = service.render(images[ASTRONAUT_ID], "256,0,256,256", "max", "0", "default", "png")
    assert np.array_equal(decode(rendered.data), data.astronaut()[0:256, 256:512])
    half = decode(service.render(images[ASTRONAUT_ID], "full", "256,", "0", "color", "png").data)
    expected = data.astronaut().reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
    assert np.abs(half.astype(float) - expected).mean() < 3


def test_rotation_mirroring_and_qualities(service: TileService, images: dict[str, ResolvedImage]):
    resolved = images[COFFEE_ID]
    source = data.coffee()

    def get(rotation: str, quality: str = "default", fmt: str = "png") -> np.ndarray:
        return decode(service.render(resolved, "full", "max", rotation, quality, fmt).data)

    assert np.array_equal(get("90"), np.rot90(source, k=-1))
    assert np.array_equal(get("180"), source[::-1, ::-1])
    assert np.array_equal(get("!0"), source[:, ::-1])
    assert np.array_equal(get("!90"), np.rot90(source[:, ::-1], k=-1))
    rotated = get("30")
    assert rotated.shape[2] == 4 and rotated[0, 0, 3] == 0  # transparent corner
    assert get("0", "gray").ndim == 2
    bitonal = service.render(resolved, "full", "max", "0", "bitonal", "png").data
    assert Image.open(io.BytesIO(bitonal)).mode == "1"  # written as a 1-bit PNG
    assert decode(service.render(resolved, "full", "max", "0", "gray", "jpg").data).ndim == 2
    webp = service.render(resolved, "full", "300,", "0", "default", "webp")
    assert webp.media_type == "image/webp" and webp.data[8:12] == b"WEBP"


def test_parameter_errors(service: TileService, images: dict[str, ResolvedImage]) -> None:
    resolved = images[COFFEE_ID]
    cases = [
        (("foo", "max", "0", "default", "jpg"), 400),
        (("full", "601,", "0", "default", "jpg"), 400),
        (("full", "max", "400", "default", "jpg"), 400),
        (("full", "max", "0", "grey", "jpg"), 400),
        (("full", "max", "0", "default", "tif"), 400),
    ]
    for args, status in cases:
        with pytest.raises(IIIFError) as info:
            service.render(resolved, *args)
        assert info.value.status == status, args
    no_upscaling = TileService(service.disk.root, max_upscale=0)
    with pytest.raises(IIIFError) as info:
        no_upscaling.render(resolved, "full", "^pct:120", "0", "default", "jpg")
    assert info.value.status == 501


def test_missing_source_is_404_without_path(service: TileService, tmp_path: Path) -> None:
    resolved = ResolvedImage("d" * 40, "image", tmp_path / "secret-name.png")
    with pytest.raises(IIIFError) as info:
        service.render(resolved, "full", "max", "0", "default", "jpg")
    assert info.value.status == 404
    assert "secret" not in info.value.message and str(tmp_path) not in info.value.message


@pytest.mark.parametrize("identifier", ["..", "../x", "a/b", ".hidden", "", "a" * 200])
def test_unsafe_identifiers_never_reach_the_disk(
    service: TileService, images: dict[str, ResolvedImage], identifier: str
) -> None:
    resolved = ResolvedImage(identifier, "image", images[COFFEE_ID].path)
    with pytest.raises(IIIFError) as info:
        service.render(resolved, "full", "max", "0", "default", "jpg")
    assert info.value.status == 404
    with pytest.raises(IIIFError):
        service.cached(identifier, "full", "100,100", "0", "default", "jpg")
    assert not any(service.disk.root.parent.glob("x*"))


def test_cache_layout_and_hit_after_restart(
    cache_dir: Path, images: dict[str, ResolvedImage]
) -> None:
    first = TileService(cache_dir)
    resolved = images[ASTRONAUT_ID]
    rendered = first.render(resolved, "0,0,512,512", "256,256", "0", "default", "jpg")
    path = cache_dir / "aa" / ASTRONAUT_ID / "full_256,256_0_default.jpg"
    assert path.read_bytes() == rendered.data
    assert not list(path.parent.glob(".*"))  # no temporary files left behind

    restarted = TileService(cache_dir)
    # The normalised URL is found on disk without parsing or decoding anything.
    hit = restarted.cached(ASTRONAUT_ID, "full", "256,256", "0", "default", "jpg")
    assert hit is not None and hit.data == rendered.data and hit.etag == rendered.etag
    assert restarted.cached_bytes(ASTRONAUT_ID, "full", "256,256", "0", "default", "jpg")
    # A non-normalised URL misses the fast path but render() finds the same file.
    assert restarted.cached(ASTRONAUT_ID, "0,0,512,512", "256,256", "0", "default", "jpg") is None
    path.write_bytes(b"sentinel")
    again = restarted.render(resolved, "0,0,512,512", "256,256", "0", "default", "jpg")
    assert again.data == b"sentinel"  # served from disk, not re-rendered
    assert restarted.sources._items == {}


def test_missing_cache_file_is_rebuilt(cache_dir: Path, images: dict[str, ResolvedImage]) -> None:
    resolved = images[CHELSEA_ID]
    rendered = TileService(cache_dir).render(resolved, "0,0,256,256", "max", "0", "default", "jpg")
    path = cache_dir / "cc" / CHELSEA_ID / "0,0,256,256_256,256_0_default.jpg"
    path.unlink()
    restarted = TileService(cache_dir)
    assert restarted.cached(CHELSEA_ID, "0,0,256,256", "256,256", "0", "default", "jpg") is None
    rebuilt = restarted.render(resolved, "0,0,256,256", "256,256", "0", "default", "jpg")
    assert rebuilt.data == rendered.data
    assert path.read_bytes() == rendered.data


def test_empty_cache_file_counts_as_missing(
    service: TileService, images: dict[str, ResolvedImage]
) -> None:
    resolved = images[CHELSEA_ID]
    service.disk.write(CHELSEA_ID, "full_64,43_0_default.jpg", b"")
    path = service.disk.path(CHELSEA_ID, "full_64,43_0_default.jpg")
    assert service.cached(CHELSEA_ID, "full", "64,43", "0", "default", "jpg") is None
    rendered = service.render(resolved, "full", "64,43", "0", "default", "jpg")
    assert path.read_bytes() == rendered.data != b""


def test_pregenerate_fills_the_same_layout(
    cache_dir: Path, images: dict[str, ResolvedImage]
) -> None:
    service = TileService(cache_dir)
    resolved = images[COFFEE_ID]
    written = service.pregenerate(resolved)
    names = {p.name for p in (cache_dir / "01" / COFFEE_ID).iterdir()}
    assert written == len(names) == len(service.tile_requests(resolved))
    assert service.pregenerate(resolved) == 0  # idempotent
    fresh = TileService(cache_dir)
    for region, size, w, h in osd_tile_urls(600, 400):
        hit = fresh.cached(COFFEE_ID, region, size, "0", "default", "jpg")
        if hit is None:  # e.g. full-resolution tiles requested as x,y,w,h that cover the image
            hit = fresh.render(resolved, region, size, "0", "default", "jpg")
        assert decode(hit.data).shape == (h, w, 3)
    assert fresh.sources._items == {}  # nothing had to be decoded


def test_evict(service: TileService, images: dict[str, ResolvedImage]) -> None:
    service.render(images[COFFEE_ID], "full", "max", "0", "default", "jpg")
    service.evict(COFFEE_ID)
    assert not (service.disk.root / "01" / COFFEE_ID).exists()


def expected_diff(gain: float) -> np.ndarray:
    """3 everywhere, 40 in the patch, times gain, rounded, clipped, through the colour map."""
    largest = np.full(data.astronaut().shape[:2], 3.0)
    largest[PATCH] = 40.0
    return viridis_lut()[np.minimum(255, np.floor(largest * gain + 0.5)).astype(np.intp)]


@pytest.mark.parametrize("gain", [1.0, 2.0, 4.0, 8.0])
def test_difference_map_values(
    cache_dir: Path, images: dict[str, ResolvedImage], gain: float
) -> None:
    service = TileService(cache_dir, diff_gain=gain)
    rendered = service.render(images[DIFF_ID], "full", "max", "0", "default", "png")
    got = decode(rendered.data)
    assert np.array_equal(got, expected_diff(gain))
    lut = viridis_lut()
    assert tuple(got[10, 10]) == tuple(lut[round(3 * gain)])
    assert tuple(got[150, 200]) == tuple(lut[min(255, round(40 * gain))])
    # Computed again from the pair after a restart, and tiled like any image.
    reloaded = TileService(cache_dir, diff_gain=gain)
    again = reloaded.render(images[DIFF_ID], "full", "max", "0", "default", "png")
    assert np.array_equal(decode(again.data), expected_diff(gain))
    tile = service.render(images[DIFF_ID], "256,256,256,256", "128,128", "0", "default", "jpg")
    assert decode(tile.data).shape == (128, 128, 3)


def test_changed_gain_clears_cached_difference_maps(
    cache_dir: Path, images: dict[str, ResolvedImage]
) -> None:
    first = TileService(cache_dir, diff_gain=1.0)
    first.render(images[DIFF_ID], "full", "max", "0", "color", "png")
    assert (cache_dir / "aa" / DIFF_ID).exists()
    TileService(cache_dir, diff_gain=1.0)
    assert (cache_dir / "aa" / DIFF_ID).exists()
    service = TileService(cache_dir, diff_gain=3.0)
    assert not (cache_dir / "aa" / DIFF_ID).exists()
    got = decode(service.render(images[DIFF_ID], "full", "max", "0", "color", "png").data)
    assert np.array_equal(got, expected_diff(3.0))


def test_diff_scale_and_legend() -> None:
    scale = DiffScale.for_gain(2.0)
    assert scale.max_value == 127.5 and scale.colormap == "viridis"
    assert scale.to_dict()["gain"] == 2.0
    with pytest.raises(ValueError):
        DiffScale.for_gain(0)
    legend = decode(legend_png(height=100, width=10))
    assert legend.shape == (100, 10, 3)
    lut = viridis_lut()
    assert tuple(legend[0, 0]) == tuple(lut[255])  # top: largest difference
    assert tuple(legend[-1, 5]) == tuple(lut[0])
    assert (legend[:, 0] == legend[:, 9]).all()


def test_viridis_lut_is_perceptual_and_close_to_reference() -> None:
    lut = viridis_lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert tuple(lut[0]) == (0x44, 0x01, 0x54) and tuple(lut[255]) == (0xFD, 0xE7, 0x25)
    luminance = lut.astype(float) @ [0.2126, 0.7152, 0.0722]
    # Lightness rises monotonically (up to 8-bit rounding), so the map also reads in grey.
    assert (np.diff(luminance[::2]) > 0).all()
    colormaps = pytest.importorskip("matplotlib").colormaps
    reference = np.rint(np.asarray(colormaps["viridis"].colors) * 255)
    assert np.abs(lut.astype(float) - reference).max() <= 1


def test_a_replaced_tile_gets_a_new_entity_tag(
    service: TileService, images: dict[str, ResolvedImage]
) -> None:
    """Tags come from the file (size, modification time), so a tile rebuilt under the same
    name (a new difference-map gain) is never answered 304 from a browser's old copy."""
    first = service.render(images[CHELSEA_ID], "full", "64,43", "0", "default", "jpg")
    again = service.cached(CHELSEA_ID, "full", "64,43", "0", "default", "jpg")
    assert again is not None and again.etag == first.etag
    service.disk.write(CHELSEA_ID, "full_64,43_0_default.jpg", first.data + b"\0")
    replaced = service.cached(CHELSEA_ID, "full", "64,43", "0", "default", "jpg")
    assert replaced is not None and replaced.etag != first.etag
