"""Full-reference quality metrics on 8-bit RGB, as CompressAI's evaluation computes them.

PSNR, SSIM and MS-SSIM take two ``uint8 [H, W, 3]`` arrays and work on the 0–255 values with
data range 255 (``compressai.utils.eval_model``: both images rounded to integers, then
``pytorch_msssim`` with an 11-tap Gaussian window, σ = 1.5, K = (0.01, 0.03), valid filtering,
2 × 2 average pooling between scales and the five MS-SSIM weights of Wang et al. 2003). MS-SSIM
needs both sides > 160 px (four halvings of an 11-px window); smaller images get ``None`` and a
reason.

The filters run in OpenCV on horizontal strips small enough to stay in the CPU cache, the strips
spread over the machine's cores: at 2304 × 1536 this is several times faster than whole-image
filtering, and the metric time is part of every reconstruction's cost. SSIM and the first
MS-SSIM scale are the same computation, so :func:`quality` does it once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from backend.imaging.cores import usable_cores

DATA_RANGE = 255.0
WIN_SIZE = 11
WIN_SIGMA = 1.5
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = (WIN_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1)

_C1 = (K1 * DATA_RANGE) ** 2
_C2 = (K2 * DATA_RANGE) ** 2
_HALF = WIN_SIZE // 2
# One float32 RGB strip of about this many bytes keeps a strip's dozen maps in a core's cache.
_STRIP_BYTES = 1_500_000
_KERNEL = cv2.getGaussianKernel(WIN_SIZE, WIN_SIGMA, cv2.CV_32F)


@dataclass(frozen=True)
class Quality:
    """PSNR (dB), SSIM and MS-SSIM of a reconstruction; ``ms_ssim_reason`` when it is None."""

    psnr: float
    ssim: float
    ms_ssim: float | None
    ms_ssim_reason: str | None = None


def check_pair(ref: np.ndarray, rec: np.ndarray, *, min_side: int = 1) -> None:
    """Raise ``ValueError`` unless both are ``uint8 [H, W, 3]``, alike, sides ≥ ``min_side``."""
    for name, arr in (("reference", ref), ("reconstruction", rec)):
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{name} must be a uint8 [H, W, 3] array, got {type(arr).__name__}")
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"{name} must be uint8 [H, W, 3], got {arr.dtype} {arr.shape}")
    if ref.shape != rec.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {rec.shape}")
    height, width = ref.shape[:2]
    if min(height, width) < min_side:
        raise ValueError(f"SSIM needs both sides ≥ {min_side} px, got {width}×{height}")


def psnr(ref: np.ndarray, rec: np.ndarray) -> float:
    """PSNR in dB over all RGB values (``inf`` for identical images); exact squared error."""
    check_pair(ref, rec)
    # The sum of squared 8-bit differences is an integer below 2**53: exact in a double.
    mse = cv2.norm(ref, rec, cv2.NORM_L2SQR) / ref.size
    if mse == 0.0:
        return math.inf
    return 20.0 * math.log10(DATA_RANGE) - 10.0 * math.log10(mse)


def _blur(plane: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(plane, cv2.CV_32F, _KERNEL, _KERNEL, borderType=cv2.BORDER_REPLICATE)


def _strip_sums(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-channel sums of the SSIM and contrast-structure maps over a strip's valid rows.

    ``x`` and ``y`` are ``[rows + 10, W, 3]``; only outputs whose whole window lies inside the
    strip count, so strips that overlap by ten rows tile the image's valid region exactly. Only
    the sum of the two variances enters SSIM, so ``x² + y²`` is blurred as one map.
    """
    x = x.astype(np.float32)
    y = y.astype(np.float32)
    mu_x, mu_y = _blur(x), _blur(y)
    squares = _blur(cv2.add(cv2.multiply(x, x), cv2.multiply(y, y)))
    products = _blur(cv2.multiply(x, y))
    mu_xy = cv2.multiply(mu_x, mu_y)
    mu_sq = cv2.add(cv2.multiply(mu_x, mu_x), cv2.multiply(mu_y, mu_y))
    cs_map = cv2.divide(
        cv2.addWeighted(products, 2.0, mu_xy, -2.0, _C2),
        cv2.addWeighted(squares, 1.0, mu_sq, -1.0, _C2),
    )
    luminance = cv2.divide(
        cv2.addWeighted(mu_xy, 2.0, mu_xy, 0.0, _C1), cv2.addWeighted(mu_sq, 1.0, mu_sq, 0.0, _C1)
    )
    ssim_map = cv2.multiply(luminance, cs_map)
    valid = (slice(_HALF, -_HALF), slice(_HALF, -_HALF))
    return np.array(
        [cv2.sumElems(ssim_map[valid])[:3], cv2.sumElems(cs_map[valid])[:3]], dtype=np.float64
    )


def _ssim_and_cs(
    x: np.ndarray, y: np.ndarray, run: Callable[..., Iterable[np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean SSIM and contrast-structure terms of two ``[H, W, 3]`` images."""
    height, width = x.shape[:2]
    out_rows = height - 2 * _HALF
    rows = max(16, _STRIP_BYTES // (width * 3 * 4))
    starts = range(0, out_rows, rows)
    strips = [
        (x[s : min(s + rows, out_rows) + 2 * _HALF], y[s : min(s + rows, out_rows) + 2 * _HALF])
        for s in starts
    ]
    total = sum(run(_strip_sums, *zip(*strips, strict=True)), np.zeros((2, 3)))
    means = total / (out_rows * (width - 2 * _HALF))
    return means[0], means[1]


def _halve(image: np.ndarray, run: Callable[..., Iterable[np.ndarray]]) -> np.ndarray:
    """2 × 2 average pooling to float32, in strips; an odd side gets a leading zero row or column
    counted in the mean, as ``avg_pool2d(kernel_size=2, padding=side % 2)`` in ``pytorch_msssim``.
    """
    pad_top, pad_left = image.shape[0] % 2, image.shape[1] % 2
    if pad_top or pad_left:
        image = cv2.copyMakeBorder(
            image, pad_top, 0, pad_left, 0, cv2.BORDER_CONSTANT, value=(0.0,)
        )
    height, width = image.shape[:2]
    rows = max(2, _STRIP_BYTES // (width * 3 * 4) // 2 * 2)

    def pool(strip: np.ndarray) -> np.ndarray:
        size = (width // 2, strip.shape[0] // 2)
        return cv2.resize(strip.astype(np.float32), size, interpolation=cv2.INTER_AREA)

    return np.concatenate(list(run(pool, [image[s : s + rows] for s in range(0, height, rows)])))


def quality(ref: np.ndarray, rec: np.ndarray) -> Quality:
    """PSNR, SSIM and MS-SSIM of ``rec`` against ``ref`` (both ``uint8 [H, W, 3]``)."""
    check_pair(ref, rec, min_side=WIN_SIZE)
    height, width = ref.shape[:2]
    value_psnr = psnr(ref, rec)
    with ThreadPoolExecutor(usable_cores(), thread_name_prefix="sclic-metrics") as pool:
        ssim_c, cs_c = _ssim_and_cs(ref, rec, pool.map)
        value_ssim = float(ssim_c.mean())
        if min(height, width) <= MS_SSIM_MIN_SIDE:
            reason = f"MS-SSIM needs both sides > {MS_SSIM_MIN_SIDE} px, got {width}×{height}"
            return Quality(value_psnr, value_ssim, None, reason)
        factors = [np.maximum(cs_c, 0.0)]
        x, y = ref, rec
        last = len(MS_SSIM_WEIGHTS) - 1
        for level in range(1, last + 1):
            x, y = _halve(x, pool.map), _halve(y, pool.map)
            ssim_c, cs_c = _ssim_and_cs(x, y, pool.map)
            factors.append(np.maximum(ssim_c if level == last else cs_c, 0.0))
    weights = np.array(MS_SSIM_WEIGHTS).reshape(-1, 1)
    per_channel = np.prod(np.stack(factors) ** weights, axis=0)
    return Quality(value_psnr, value_ssim, float(per_channel.mean()))


def ssim(ref: np.ndarray, rec: np.ndarray) -> float:
    """Mean SSIM over the RGB channels."""
    return quality(ref, rec).ssim


def ms_ssim(ref: np.ndarray, rec: np.ndarray) -> tuple[float | None, str | None]:
    """(MS-SSIM, None), or (None, reason) when a side is ≤ 160 px."""
    result = quality(ref, rec)
    return result.ms_ssim, result.ms_ssim_reason
