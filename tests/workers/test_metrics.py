"""PSNR / SSIM / MS-SSIM on 8-bit values, checked against CompressAI's own metric code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workers.codecs.base import bpp
from workers.metrics import ms_ssim, psnr, quality, ssim


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    ref = np.ascontiguousarray(data.astronaut()[:201, :333])
    noise = np.random.default_rng(0).integers(-25, 26, ref.shape)
    return ref, np.clip(ref.astype(int) + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("strip_bytes", [None, 20_000], ids=["one-strip", "many-strips"])
def test_matches_compressai_evaluation(
    pair: tuple[np.ndarray, np.ndarray], strip_bytes: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from compressai.utils.eval_model.__main__ import compute_metrics
    from pytorch_msssim import ssim as reference_ssim

    ref, rec = pair
    as_unit = [torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255 for a in pair]
    expected = compute_metrics(*as_unit, 255)
    if strip_bytes is not None:
        # 16-row strips (and odd-sided halvings) must sum to the whole-image result.
        monkeypatch.setattr("workers.metrics._STRIP_BYTES", strip_bytes)
    got = quality(ref, rec)
    assert got.psnr == pytest.approx(expected["psnr-rgb"], abs=1e-4)
    assert got.ms_ssim == pytest.approx(expected["ms-ssim-rgb"], abs=1e-5)
    as_255 = [t * 255 for t in as_unit]
    assert got.ssim == pytest.approx(reference_ssim(*as_255, data_range=255).item(), abs=1e-5)
    assert ssim(ref, rec) == got.ssim and ms_ssim(ref, rec) == (got.ms_ssim, None)


def test_identical_images(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref = pair[0]
    result = quality(ref, ref)
    assert math.isinf(result.psnr)
    assert result.ssim == pytest.approx(1.0) and result.ms_ssim == pytest.approx(1.0)


def test_ms_ssim_needs_sides_over_160(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, rec = (np.ascontiguousarray(a[:160]) for a in pair)
    value, reason = ms_ssim(ref, rec)
    assert value is None and reason is not None and "160" in reason
    assert 0 < quality(ref, rec).ssim < 1


def test_psnr_and_bpp_values() -> None:
    ref = np.zeros((4, 4, 3), np.uint8)
    rec = np.full((4, 4, 3), 255, np.uint8)
    assert psnr(ref, rec) == pytest.approx(0.0)
    assert bpp(1000, 100, 80) == 1.0


def test_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="array, got list"):
        quality([[0]], np.zeros((4, 4, 3), np.uint8))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))


@pytest.mark.parametrize("threads", [1, 3, 8])
def test_same_scores_whatever_the_number_of_cores(
    pair: tuple[np.ndarray, np.ndarray], threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strips are a fixed number of rows and summed in order, so the thread count that a
    machine's cores give changes no digit."""
    ref, rec = pair
    expected = quality(ref, rec)
    monkeypatch.setattr("workers.metrics._STRIP_BYTES", 20_000)  # many strips per thread
    many_strips = quality(ref, rec)
    monkeypatch.setattr("workers.metrics.usable_cores", lambda: threads)
    assert quality(ref, rec) == many_strips
    assert many_strips.ssim == pytest.approx(expected.ssim, abs=1e-6)
