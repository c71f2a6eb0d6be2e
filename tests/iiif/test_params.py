"""Parameter parsing against IIIF Image API 3.0, sections 4.1 to 4.5."""

from __future__ import annotations

import pytest

from backend.iiif.models import IIIFError
from backend.iiif.params import (
    Limits,
    Region,
    fast_cache_name,
    parse_format,
    parse_quality,
    parse_region,
    parse_request,
    parse_rotation,
    parse_size,
    scale_factors,
)

W, H = 600, 400
LIMITS = Limits(max_width=1200, max_height=800, allow_upscaling=True)
NO_UPSCALING = Limits(allow_upscaling=False)
FULL = Region(0, 0, W, H, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("full", (0, 0, 600, 400, True)),
        ("square", (100, 0, 400, 400, False)),
        ("10,20,30,40", (10, 20, 30, 40, False)),
        ("0,0,600,400", (0, 0, 600, 400, True)),
        ("500,300,400,400", (500, 300, 100, 100, False)),  # clipped at the edge
        ("pct:10,10,50,50", (60, 40, 300, 200, False)),
        ("pct:0,0,100,100", (0, 0, 600, 400, True)),
        ("pct:41.6,7.5,66.6,100", (250, 30, 350, 370, False)),
    ],
)
def test_region_valid(text: str, expected: tuple[int, int, int, int, bool]) -> None:
    region = parse_region(text, W, H)
    assert (region.x, region.y, region.width, region.height, region.full) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Full",
        "0,0,0,10",
        "0,0,10,0",
        "600,0,10,10",  # entirely outside
        "0,400,10,10",
        "-1,0,10,10",
        "1,2,3",
        "1,2,3,4,5",
        "1.5,0,10,10",
        "pct:0,0,0,10",
        "pct:100,0,10,10",
        "pct:+1,0,10,10",
        "pct:1e2,0,10,10",
        "pct:.5,0,10,10",
        "squares",
        "..",
    ],
)
def test_region_invalid_is_400(text: str) -> None:
    with pytest.raises(IIIFError) as info:
        parse_region(text, W, H)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", (600, 400, False)),
        ("300,", (300, 200, False)),
        (",200", (300, 200, False)),
        ("pct:50", (300, 200, False)),
        ("pct:12.5", (75, 50, False)),
        ("150,100", (150, 100, False)),
        ("600,10", (600, 10, False)),  # distorting is allowed
        ("!225,100", (150, 100, False)),
        ("!2000,300", (450, 300, False)),  # confined by one side
        ("^max", (1200, 800, True)),
        ("^900,", (900, 600, True)),
        ("^,600", (900, 600, True)),
        ("^pct:150", (900, 600, True)),
        ("^1200,400", (1200, 400, True)),
        ("^!900,900", (900, 600, True)),
        ("^!5000,5000", (1200, 800, True)),  # as large as the server limit allows
        ("^300,", (300, 200, False)),  # ^ allows but does not require upscaling
    ],
)
def test_size_valid(text: str, expected: tuple[int, int, bool]) -> None:
    size = parse_size(text, FULL, LIMITS)
    assert (size.width, size.height, size.upscaled) == expected


@pytest.mark.parametrize(
    "text",
    [
        "full",  # replaced by max in 3.0
        "601,",
        ",401",
        "pct:101",
        "601,400",
        "0,",
        ",0",
        "pct:0",
        "0,0",
        "^1201,",
        "^pct:300",
        "!0,0",
        "!2000,3000",  # larger than the region on both sides: needs ^
        "max,",
        "^",
        "w,h",
        "pct:-5",
        "",
    ],
)
def test_size_invalid_is_400(text: str) -> None:
    with pytest.raises(IIIFError) as info:
        parse_size(text, FULL, LIMITS)
    assert info.value.status == 400


@pytest.mark.parametrize("text", ["^601,", "^pct:120", "^!900,900", "^600,401"])
def test_upscaling_switched_off_is_501(text: str) -> None:
    with pytest.raises(IIIFError) as info:
        parse_size(text, FULL, NO_UPSCALING)
    assert info.value.status == 501


def test_caret_without_upscaling_is_fine_when_switched_off() -> None:
    size = parse_size("^300,", FULL, NO_UPSCALING)
    assert (size.width, size.height) == (300, 200)


def test_size_is_relative_to_region() -> None:
    region = parse_region("0,0,100,50", W, H)
    size = parse_size("pct:50", region, LIMITS)
    assert (size.width, size.height) == (50, 25)
    with pytest.raises(IIIFError):
        parse_size("200,", region, LIMITS)


@pytest.mark.parametrize(
    ("text", "degrees", "mirror", "name"),
    [
        ("0", 0, False, "0"),
        ("90", 90, False, "90"),
        ("!180", 180, True, "m180"),
        ("22.5", 22.5, False, "22.5"),
        ("360", 360, False, "360"),
        ("!0", 0, True, "m0"),
        ("90.0", 90, False, "90"),
    ],
)
def test_rotation_valid(text: str, degrees: float, mirror: bool, name: str) -> None:
    rotation = parse_rotation(text)
    assert (rotation.degrees, rotation.mirror, rotation.name) == (degrees, mirror, name)


@pytest.mark.parametrize("text", ["", "-90", "361", "!", "!!90", "+90", "90deg", "1e2", "abcd"])
def test_rotation_invalid_is_400(text: str) -> None:
    with pytest.raises(IIIFError) as info:
        parse_rotation(text)
    assert info.value.status == 400


def test_rotation_arbitrary_switched_off_is_400() -> None:
    with pytest.raises(IIIFError) as info:
        parse_rotation("45", arbitrary=False)
    assert info.value.status == 400


@pytest.mark.parametrize("text", ["default", "color", "gray", "bitonal"])
def test_quality_valid(text: str) -> None:
    assert parse_quality(text) == text


@pytest.mark.parametrize("text", ["grey", "native", "Default", "", "x"])
def test_quality_invalid_is_400(text: str) -> None:
    with pytest.raises(IIIFError) as info:
        parse_quality(text)
    assert info.value.status == 400


@pytest.mark.parametrize("text", ["jpg", "png", "webp"])
def test_format_valid(text: str) -> None:
    assert parse_format(text) == text


@pytest.mark.parametrize("text", ["tif", "gif", "pdf", "jp2", "jpeg", "JPG", "", "png/"])
def test_format_unsupported_is_400(text: str) -> None:
    with pytest.raises(IIIFError) as info:
        parse_format(text)
    assert info.value.status == 400


def test_cache_name_is_normalised_and_safe() -> None:
    a = parse_request("full", "max", "0", "default", "jpg", W, H, LIMITS)
    b = parse_request("0,0,600,400", "600,400", "0", "default", "jpg", W, H, LIMITS)
    c = parse_request("pct:0,0,100,100", "pct:100", "0.0", "default", "jpg", W, H, LIMITS)
    assert a.cache_name == b.cache_name == c.cache_name == "full_600,400_0_default.jpg"
    up = parse_request("square", "^!800,800", "!22.5", "bitonal", "png", W, H, LIMITS)
    assert up.cache_name == "100,0,400,400_up800,800_m22.5_bitonal.png"


def test_fast_cache_name_only_for_normalised_syntax() -> None:
    assert fast_cache_name("0,0,512,512", "256,256", "0", "default", "jpg") == (
        "0,0,512,512_256,256_0_default.jpg"
    )
    assert fast_cache_name("full", "144,144", "0", "default", "jpg") is not None
    for args in [
        ("full", "max", "0", "default", "jpg"),
        ("..", "256,256", "0", "default", "jpg"),
        ("0,0,512,512", "256,", "0", "default", "jpg"),
        ("0,0,512,512", "256,256", "!0", "default", "jpg"),
        ("0,0,512,512", "256,256", "0", "x", "jpg"),
        ("0,0,512,512", "256,256", "0", "default", "tif"),
    ]:
        assert fast_cache_name(*args) is None


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(2304, 2304, [1, 2, 4, 8, 16]), (256, 256, [1]), (257, 10, [1, 2]), (600, 400, [1, 2, 4])],
)
def test_scale_factors(width: int, height: int, expected: list[int]) -> None:
    assert scale_factors(width, height, 256) == expected
