"""Sizes of prepared images (paper, section 3.1; appendix 1.1 for RAISE)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backend.ingest.geometry import centre_crop, fit_size, plan_geometry, scaled_size

sides = st.integers(min_value=16, max_value=20_000)
scales = st.one_of(st.none(), st.floats(min_value=0.05, max_value=1.0))


@settings(max_examples=500, deadline=None)
@given(width=sides, height=sides, scale=scales)
def test_output_sides_are_multiples_of_16_and_at_most_2304(width, height, scale):
    geometry = plan_geometry(width, height, scale=scale)
    if geometry is None:
        assert min(scaled_size(width, height, scale)) < 16
        return
    out_w, out_h = geometry.output
    assert out_w % 16 == 0 and out_h % 16 == 0
    assert 16 <= out_w <= 2304 and 16 <= out_h <= 2304
    left, top, crop_w, crop_h = geometry.crop
    scaled_w, scaled_h = geometry.scaled
    # Largest multiples of 16, centred, and never upscaled afterwards.
    assert crop_w % 16 == 0 and crop_h % 16 == 0
    assert 0 <= scaled_w - crop_w < 16 and 0 <= scaled_h - crop_h < 16
    assert left == (scaled_w - crop_w) // 2 and top == (scaled_h - crop_h) // 2
    assert out_w <= crop_w and out_h <= crop_h


@settings(max_examples=500, deadline=None)
@given(width=sides, height=sides)
@example(width=4592, height=4608)
def test_downscale_keeps_the_long_side_maximal_and_the_aspect_within_half_a_multiple(width, height):
    geometry = plan_geometry(width, height)
    assert geometry is not None
    crop_w, crop_h = geometry.crop[2:]
    out_w, out_h = geometry.output
    if not geometry.resized:
        assert max(crop_w, crop_h) <= 2304
        return
    long_in, short_in = max(crop_w, crop_h), min(crop_w, crop_h)
    long_out, short_out = max(out_w, out_h), min(out_w, out_h)
    assert long_out == 2304
    exact_short = short_in * long_out / long_in
    assert abs(short_out - exact_short) <= 8 or short_out == 16
    # Orientation is kept, except that a near-square crop may come out square: its short side
    # rounds to the nearest multiple, which can be the long side (4592 × 4608 → 2304 × 2304).
    assert (out_w >= out_h) == (crop_w >= crop_h) or crop_w == crop_h or out_w == out_h


@pytest.mark.parametrize(
    ("multiple", "max_side"), [(16, 2304), (64, 2000), (8, 1024), (1, 333), (32, 32)]
)
@settings(max_examples=100, deadline=None)
@given(width=st.integers(1, 9000), height=st.integers(1, 9000))
def test_other_multiples_and_limits(multiple, max_side, width, height):
    geometry = plan_geometry(width, height, multiple=multiple, max_side=max_side)
    if geometry is None:
        assert min(width, height) < multiple
        return
    out_w, out_h = geometry.output
    assert out_w % multiple == 0 and out_h % multiple == 0
    assert 0 < out_w <= max_side and 0 < out_h <= max_side


def test_a_4000_by_3000_photograph():
    geometry = plan_geometry(4000, 3000)
    assert geometry is not None
    assert geometry.crop == (0, 4, 4000, 2992)
    assert geometry.output == (2304, 1728)
    portrait = plan_geometry(3000, 4000)
    assert portrait is not None and portrait.output == (1728, 2304)


def test_raise_images_are_scaled_to_40_percent_first():
    # Nikon D90 frames in RAISE are 4288×2848; D7000 frames 4928×3264.
    d90 = plan_geometry(4288, 2848, scale=0.4)
    assert d90 is not None
    assert d90.scaled == (1715, 1139)
    assert d90.crop == (1, 1, 1712, 1136)
    assert d90.output == (1712, 1136) and not d90.resized
    d7000 = plan_geometry(4928, 3264, scale=0.4)
    assert d7000 is not None and d7000.output == (1968, 1296)


def test_scale_that_still_exceeds_the_limit_is_followed_by_the_downscale():
    geometry = plan_geometry(12_000, 8_000, scale=0.4)
    assert geometry is not None
    assert geometry.scaled == (4800, 3200)
    assert geometry.output == (2304, 1536)


def test_small_images_are_only_cropped():
    assert fit_size(640, 480, 16, 2304) == (640, 480)
    assert centre_crop(650, 481, 16) == (5, 0, 640, 480)


def test_too_small_and_invalid_parameters():
    assert plan_geometry(15, 400) is None
    assert plan_geometry(100, 30, scale=0.4) is None
    with pytest.raises(ValueError):
        plan_geometry(100, 100, scale=1.5)
    with pytest.raises(ValueError):
        plan_geometry(100, 100, scale=0)
    with pytest.raises(ValueError):
        plan_geometry(100, 100, multiple=16, max_side=8)
