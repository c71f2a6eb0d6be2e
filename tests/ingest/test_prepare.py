"""Preparation and refusal of source files (paper, section 3.1)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from backend.core.config import Settings
from backend.ingest.prepare import PrepareOptions, PrepareOutcome, prepare_image, prepare_many
from backend.ingest.validate import Rejection, RejectReason
from tests.ingest.factories import (
    damage_middle,
    encode,
    jpeg_with_size,
    pixels,
    png16,
    png_bomb,
    tiff,
)


def accepted(outcome: PrepareOutcome | Rejection) -> PrepareOutcome:
    assert isinstance(outcome, PrepareOutcome), outcome
    return outcome


def refused(outcome: PrepareOutcome | Rejection, reason: RejectReason) -> Rejection:
    assert isinstance(outcome, Rejection), outcome
    assert outcome.reason_code == reason, outcome
    assert outcome.message
    return outcome


def decoded(outcome: PrepareOutcome) -> np.ndarray:
    with Image.open(io.BytesIO(outcome.png)) as image:
        assert image.format == "PNG"
        assert image.mode == "RGB"
        assert image.size == (outcome.width, outcome.height)
        return np.asarray(image)


# Accepted files -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_accepts_rgb_png_jpeg_and_tiff(fmt):
    data = encode(pixels(100, 70), fmt)
    outcome = accepted(prepare_image(data))
    assert (outcome.width, outcome.height) == (96, 64)
    assert outcome.sha256 == hashlib.sha256(data).hexdigest()
    assert outcome.source_format == fmt.lower()
    assert (outcome.source_width, outcome.source_height) == (100, 70)
    assert "centre-cropped 100×70 → 96×64" in outcome.notes
    decoded(outcome)


def test_crop_without_resampling_keeps_the_exact_centre_pixels():
    source = pixels(53, 37)
    outcome = accepted(prepare_image(encode(source, "PNG")))
    assert (outcome.width, outcome.height) == (48, 32)
    np.testing.assert_array_equal(decoded(outcome), source[2:34, 2:50])


def test_sizes_that_fit_are_kept_untouched():
    source = pixels(64, 32)
    outcome = accepted(prepare_image(encode(source, "PNG")))
    assert outcome.notes == ()
    np.testing.assert_array_equal(decoded(outcome), source)


def test_downscale_to_the_maximum_side():
    outcome = accepted(prepare_image(encode(pixels(200, 150), "PNG"), max_side=64))
    assert (outcome.width, outcome.height) == (64, 48)
    assert outcome.notes[-1] == "downscaled 192×144 → 64×48"


def test_a_4000_by_3000_jpeg_becomes_2304_by_1728():
    smooth = np.asarray(
        Image.fromarray(pixels(40, 30)).resize((4000, 3000), Image.Resampling.BILINEAR)
    )
    outcome = accepted(prepare_image(encode(smooth, "JPEG", quality=90)))
    assert (outcome.width, outcome.height) == (2304, 1728)
    assert outcome.notes == (
        "centre-cropped 4000×3000 → 4000×2992",
        "downscaled 4000×2992 → 2304×1728",
    )
    # Lanczos keeps the mean colour of a smooth image.
    assert abs(decoded(outcome).mean() - smooth.mean()) < 1.0


def test_raise_scale_of_40_percent_comes_before_the_crop():
    outcome = accepted(prepare_image(encode(pixels(500, 400), "TIFF"), scale=0.4))
    assert (outcome.width, outcome.height) == (192, 160)
    assert outcome.notes == ("scaled 500×400 → 200×160", "centre-cropped 200×160 → 192×160")


def test_preparation_is_deterministic():
    data = encode(pixels(300, 200), "JPEG")
    first = accepted(prepare_image(data, max_side=128))
    second = accepted(prepare_image(data, max_side=128))
    assert first.png == second.png


def test_path_input_hashes_the_original_bytes(tmp_path: Path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(pixels(64, 48), "JPEG"))
    outcome = accepted(prepare_image(path))
    assert outcome.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_multi_page_tiff_uses_the_first_page():
    pages = np.stack([pixels(32, 32, seed=1), pixels(32, 32, seed=2)])
    outcome = accepted(prepare_image(tiff(pages, photometric="rgb")))
    assert "first of 2 pages used" in outcome.notes
    np.testing.assert_array_equal(decoded(outcome), pages[0])


def test_colour_profile_and_orientation_are_noted_not_applied():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(pixels(64, 32)).save(buffer, "JPEG", icc_profile=profile, exif=exif.tobytes())
    outcome = accepted(prepare_image(buffer.getvalue()))
    assert (outcome.width, outcome.height) == (64, 32)
    assert outcome.notes == (
        "embedded ICC profile not applied; pixel values kept as stored",
        "EXIF orientation 6 not applied",
    )
    with Image.open(io.BytesIO(outcome.png)) as image:
        assert "icc_profile" not in image.info and "exif" not in image.info


def test_options_from_settings():
    settings = Settings(
        prepare_multiple=32, prepare_max_side=1024, max_image_pixels=1000, max_upload_bytes=10
    )
    options = PrepareOptions.from_settings(settings, scale=0.4, convert=True)
    assert options == PrepareOptions(0.4, 32, 1024, True, 1000, 10)
    defaults = PrepareOptions.from_settings(Settings())
    assert (defaults.multiple, defaults.max_side) == (16, 2304)


# Refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_corrupt(fmt):
    data = encode(pixels(128, 96), fmt)
    rejection = refused(prepare_image(data[: len(data) // 2]), RejectReason.CORRUPT)
    assert rejection.sha256 == hashlib.sha256(data[: len(data) // 2]).hexdigest()


def test_truncated_tiff_is_corrupt():
    data = encode(pixels(128, 96), "TIFF")
    refused(prepare_image(data[: len(data) // 2]), RejectReason.CORRUPT)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_damaged_data_is_corrupt(fmt):
    data = encode(pixels(128, 96), fmt)
    refused(prepare_image(damage_middle(data)), RejectReason.CORRUPT)


def test_header_only_png_is_corrupt():
    refused(prepare_image(encode(pixels(32, 32), "PNG")[:33]), RejectReason.CORRUPT)


def test_text_file_named_png_is_not_an_image(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture\n")
    refused(prepare_image(path), RejectReason.NOT_AN_IMAGE)
    refused(prepare_image(b""), RejectReason.NOT_AN_IMAGE)


def test_other_image_formats_are_unsupported():
    rejection = refused(
        prepare_image(encode(pixels(32, 32), "GIF")), RejectReason.UNSUPPORTED_FORMAT
    )
    assert "GIF" in rejection.message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_grayscale_is_not_three_channels(fmt):
    refused(prepare_image(encode(pixels(32, 32, 1), fmt)), RejectReason.NOT_THREE_CHANNELS)


def test_palette_is_not_three_channels():
    palette = io.BytesIO()
    Image.fromarray(pixels(32, 32)).quantize(16).save(palette, "PNG")
    refused(prepare_image(palette.getvalue()), RejectReason.NOT_THREE_CHANNELS)


def with_alpha(lowest: int) -> np.ndarray:
    alpha = np.full((32, 32), 255, np.uint8)
    alpha[5, 7] = lowest
    return np.dstack([pixels(32, 32), alpha])


@pytest.mark.parametrize("lowest", [255, 0, 254])
def test_rgba_is_not_three_channels(lowest):
    refused(prepare_image(encode(with_alpha(lowest), "PNG")), RejectReason.NOT_THREE_CHANNELS)


@pytest.mark.parametrize("lowest", [0, 254])
def test_translucent_rgba_is_refused_even_with_conversion(lowest):
    rejection = refused(
        prepare_image(encode(with_alpha(lowest), "PNG"), convert=True),
        RejectReason.NOT_THREE_CHANNELS,
    )
    assert f"lowest alpha {lowest} of 255" in rejection.message


def rgb16() -> np.ndarray:
    return pixels(32, 32).astype(np.uint16) * 257


def test_sixteen_bit_png_and_tiff_are_not_eight_bit():
    refused(prepare_image(png16(rgb16())), RejectReason.NOT_EIGHT_BIT)
    refused(prepare_image(tiff(rgb16(), photometric="rgb")), RejectReason.NOT_EIGHT_BIT)


def test_float_tiff_is_refused_even_with_conversion():
    data = tiff(pixels(32, 32).astype(np.float32) / 255, photometric="rgb")
    refused(prepare_image(data), RejectReason.NOT_EIGHT_BIT)
    refused(prepare_image(data, convert=True), RejectReason.NOT_EIGHT_BIT)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_is_refused_even_with_conversion(fmt):
    buffer = io.BytesIO()
    Image.fromarray(pixels(32, 32)).convert("CMYK").save(buffer, fmt)
    refused(prepare_image(buffer.getvalue(), convert=True), RejectReason.NOT_THREE_CHANNELS)


def test_png_claiming_100000_by_100000_pixels_is_a_bomb_refused_before_decoding(monkeypatch):
    """Refused from its header: the pixels are never decoded (checked on the decoder, not on a
    clock)."""
    from backend.ingest import prepare

    def never_decode(pending):  # type: ignore[no-untyped-def]
        raise AssertionError("a bomb's pixels were decoded")

    monkeypatch.setattr(prepare, "_render", never_decode)
    data = png_bomb()
    assert len(data) < 100_000
    rejection = refused(prepare_image(data), RejectReason.DECOMPRESSION_BOMB)
    assert "100000×100000" in rejection.message


def test_jpeg_header_claiming_a_huge_frame_is_a_bomb():
    data = jpeg_with_size(encode(pixels(64, 48), "JPEG"), 60_000, 60_000)
    refused(prepare_image(data), RejectReason.DECOMPRESSION_BOMB)


def test_pixel_limit_is_a_parameter():
    data = encode(pixels(64, 48), "PNG")
    refused(prepare_image(data, max_pixels=64 * 48 - 1), RejectReason.DECOMPRESSION_BOMB)
    accepted(prepare_image(data, max_pixels=64 * 48))


def test_byte_limit_is_checked_before_reading(tmp_path: Path):
    data = encode(pixels(64, 48), "PNG")
    refused(prepare_image(data, max_bytes=len(data) - 1), RejectReason.TOO_MANY_BYTES)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    rejection = refused(prepare_image(path, max_bytes=10), RejectReason.TOO_MANY_BYTES)
    assert rejection.sha256 is None


def test_missing_file_is_unreadable(tmp_path: Path):
    refused(prepare_image(tmp_path / "gone.png"), RejectReason.UNREADABLE)


def test_known_hash_is_a_duplicate():
    data = encode(pixels(64, 48), "PNG")
    digest = hashlib.sha256(data).hexdigest()
    rejection = refused(prepare_image(data, known_hashes={digest}), RejectReason.DUPLICATE)
    assert rejection.sha256 == digest


def test_duplicates_within_one_run(tmp_path: Path):
    data = encode(pixels(64, 48), "PNG")
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "c.png").write_bytes(encode(pixels(64, 48, seed=3), "PNG"))
    known: set[str] = set()
    results = list(prepare_many(sorted(tmp_path.iterdir()), PrepareOptions(), known))
    assert [type(outcome).__name__ for _, outcome in results] == [
        "PrepareOutcome",
        "Rejection",
        "PrepareOutcome",
    ]
    refused(results[1][1], RejectReason.DUPLICATE)
    assert known == set()


def test_image_smaller_than_one_block_is_too_small():
    refused(prepare_image(encode(pixels(15, 64), "PNG")), RejectReason.TOO_SMALL)
    refused(prepare_image(encode(pixels(30, 64), "PNG"), scale=0.4), RejectReason.TOO_SMALL)


# Conversions ----------------------------------------------------------------------------------


def test_grayscale_converts_to_three_equal_channels():
    grey = pixels(32, 32, 1)
    outcome = accepted(prepare_image(encode(grey, "PNG"), convert=True))
    assert outcome.notes[0] == "converted: grayscale → RGB"
    rgb = decoded(outcome)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], grey)


def test_opaque_rgba_converts_by_dropping_alpha():
    rgba = with_alpha(255)
    outcome = accepted(prepare_image(encode(rgba, "PNG"), convert=True))
    assert outcome.notes[0] == "converted: opaque RGBA → RGB (alpha dropped)"
    np.testing.assert_array_equal(decoded(outcome), rgba[..., :3])


@pytest.mark.parametrize("container", ["png", "tiff"])
def test_sixteen_bit_rgb_converts_to_eight_bit(container):
    source = pixels(32, 32)
    wide = source.astype(np.uint16) * 257
    wide[0, 0] = (200 * 257 + 128, 200 * 257 - 128, 65535)
    data = png16(wide) if container == "png" else tiff(wide, photometric="rgb")
    outcome = accepted(prepare_image(data, convert=True))
    assert outcome.notes[0] == "converted: 16-bit RGB → 8-bit"
    expected = source.copy()
    expected[0, 0] = (200, 200, 255)
    np.testing.assert_array_equal(decoded(outcome), expected)


def test_sixteen_bit_grayscale_converts_in_two_steps():
    grey = pixels(32, 32, 1)
    outcome = accepted(prepare_image(png16(grey.astype(np.uint16) * 257), convert=True))
    assert outcome.notes[:2] == (
        "converted: 16-bit grayscale → 8-bit",
        "converted: grayscale → RGB",
    )
    np.testing.assert_array_equal(decoded(outcome)[..., 1], grey)


def test_palette_and_grey_alpha_convert():
    palette = io.BytesIO()
    Image.fromarray(pixels(32, 32)).quantize(8).save(palette, "PNG")
    outcome = accepted(prepare_image(palette.getvalue(), convert=True))
    assert outcome.notes[0] == "converted: palette → RGB"
    grey_alpha = np.dstack([pixels(32, 32, 1), np.full((32, 32), 255, np.uint8)])
    outcome = accepted(prepare_image(encode(grey_alpha, "PNG", mode="LA"), convert=True))
    assert outcome.notes[:2] == (
        "converted: opaque grayscale+alpha → grayscale (alpha dropped)",
        "converted: grayscale → RGB",
    )


def test_conversion_then_geometry():
    grey = pixels(100, 70, 1)
    outcome = accepted(prepare_image(encode(grey, "TIFF"), convert=True, max_side=48))
    assert (outcome.width, outcome.height) == (48, 32)
    assert outcome.notes == (
        "converted: grayscale → RGB",
        "centre-cropped 100×70 → 96×64",
        "downscaled 96×64 → 48×32",
    )
