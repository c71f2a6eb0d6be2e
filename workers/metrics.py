"""Full-reference quality metrics on 8-bit RGB, as CompressAI's evaluation computes them.

PSNR, SSIM and MS-SSIM take two ``uint8 [H, W, 3]`` arrays and work on the 0–255 values with
data range 255 (``compressai.utils.eval_model``: both images rounded to integers, then
``pytorch_msssim`` with an 11-tap Gaussian window, σ = 1.5, K = (0.01, 0.03), and the five
MS-SSIM weights of Wang et al. 2003). MS-SSIM needs both sides > 160 px (four halvings of an
11-px window); smaller images get ``None`` and a reason. Bits per pixel come from real bytes
(paper, appendix 1.4).

SSIM and the first MS-SSIM scale are the same computation, so :func:`quality` does it once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

DATA_RANGE = 255.0
WIN_SIZE = 11
WIN_SIGMA = 1.5
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = (WIN_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1)


@dataclass(frozen=True)
class Quality:
    """PSNR (dB), SSIM and MS-SSIM of a reconstruction; ``ms_ssim_reason`` when it is None."""

    psnr: float
    ssim: float
    ms_ssim: float | None
    ms_ssim_reason: str | None = None


def bpp(num_bytes: int, width: int, height: int) -> float:
    """Bits per pixel of ``num_bytes`` real bytes over a ``width`` × ``height`` image."""
    if width <= 0 or height <= 0:
        raise ValueError("image sides must be positive")
    return 8.0 * num_bytes / (width * height)


def _check_pair(ref: np.ndarray, rec: np.ndarray) -> None:
    for name, arr in (("reference", ref), ("reconstruction", rec)):
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"{name} must be uint8 [H, W, 3], got {arr.dtype} {arr.shape}")
    if ref.shape != rec.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {rec.shape}")


def psnr(ref: np.ndarray, rec: np.ndarray) -> float:
    """PSNR in dB over all RGB values (``inf`` for identical images); exact squared error."""
    _check_pair(ref, rec)
    diff = np.subtract(ref, rec, dtype=np.int16).ravel().astype(np.float64)
    mse = float(np.dot(diff, diff)) / diff.size
    if mse == 0.0:
        return math.inf
    return 20.0 * math.log10(DATA_RANGE) - 10.0 * math.log10(mse)


def _window(channels: int, device: torch.device) -> torch.Tensor:
    import torch

    coords = torch.arange(WIN_SIZE, dtype=torch.float32) - WIN_SIZE // 2
    g = torch.exp(-(coords**2) / (2 * WIN_SIGMA**2))
    g = g / g.sum()
    return g.reshape(1, 1, 1, WIN_SIZE).repeat(channels, 1, 1, 1).to(device)


def _pair_tensor(ref: np.ndarray, rec: np.ndarray, device: str) -> torch.Tensor:
    """Two ``uint8 [H, W, 3]`` arrays → one float ``[H, W, 6]`` tensor (ref then rec)."""
    import torch

    pair = torch.empty((*ref.shape[:2], 6), device=device)
    for offset, rgb in ((0, ref), (3, rec)):
        if not rgb.flags.writeable:
            rgb = rgb.copy()
        pair[..., offset : offset + 3].copy_(torch.from_numpy(rgb))
    return pair


def _blur(stack: torch.Tensor) -> torch.Tensor:
    """Separable 11-tap Gaussian of each channel of ``[H, W, C]``, valid region only.

    The ``[H, W, C]`` memory serves as a channels-last ``[1, C, H, W]`` input without a copy;
    the result comes back planar, ``[C, H - 10, W - 10]``, for fast element-wise work.
    """
    import torch.nn.functional as F

    channels = stack.shape[2]
    win = _window(channels, stack.device)
    x = stack.unsqueeze(0).permute(0, 3, 1, 2)
    x = F.conv2d(x, win, groups=channels)
    x = F.conv2d(x, win.transpose(2, 3), groups=channels)
    return x[0].contiguous()


def _ssim_and_cs(pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean SSIM and contrast-structure terms of a ``[H, W, 6]`` image pair.

    Only the sum of the two variances enters SSIM, so ``x² + y²`` is blurred as one map; the
    four maps (x, y, x² + y², xy) are blurred in one pass.
    """
    import torch

    height, width, _ = pair.shape
    stack = torch.empty((height, width, 12), device=pair.device)
    stack[..., :6] = pair
    x, y = pair[..., :3], pair[..., 3:]
    squares = stack[..., 6:9]
    torch.mul(x, x, out=squares)
    squares.addcmul_(y, y)
    torch.mul(x, y, out=stack[..., 9:])
    mu_x, mu_y, sq, xy = _blur(stack).split(3, dim=0)
    c1 = (K1 * DATA_RANGE) ** 2
    c2 = (K2 * DATA_RANGE) ** 2
    mu_xy = mu_x * mu_y
    mu_sq = (mu_x * mu_x).addcmul_(mu_y, mu_y)
    cs_map = torch.sub(xy, mu_xy).mul_(2).add_(c2).div_(torch.sub(sq, mu_sq).add_(c2))
    cs = cs_map.mean(dim=(1, 2))
    luminance = mu_xy.mul_(2).add_(c1).div_(mu_sq.add_(c1))
    return luminance.mul_(cs_map).mean(dim=(1, 2)), cs


def _halve(pair: torch.Tensor) -> torch.Tensor:
    """2×2 average pooling of ``[H, W, C]`` (odd sides padded, as ``pytorch_msssim`` does)."""
    import torch.nn.functional as F

    padding = [pair.shape[0] % 2, pair.shape[1] % 2]
    x = pair.unsqueeze(0).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(x, kernel_size=2, padding=padding)
    return pooled[0].permute(1, 2, 0).contiguous()


def quality(ref: np.ndarray, rec: np.ndarray, device: str = "cpu") -> Quality:
    """PSNR, SSIM and MS-SSIM of ``rec`` against ``ref`` (both ``uint8 [H, W, 3]``).

    ``device`` is where the SSIM filters run (``"cuda"`` beside a GPU codec is much faster).
    """
    import torch

    _check_pair(ref, rec)
    height, width = ref.shape[:2]
    if min(height, width) < WIN_SIZE:
        raise ValueError(f"SSIM needs both sides ≥ {WIN_SIZE} px, got {width}×{height}")
    value_psnr = psnr(ref, rec)
    with torch.inference_mode():
        pair = _pair_tensor(ref, rec, device)
        ssim_c, cs_c = _ssim_and_cs(pair)
        value_ssim = float(ssim_c.mean())
        if min(height, width) <= MS_SSIM_MIN_SIDE:
            reason = f"MS-SSIM needs both sides > {MS_SSIM_MIN_SIDE} px, got {width}×{height}"
            return Quality(value_psnr, value_ssim, None, reason)
        factors = [torch.relu(cs_c)]
        for level in range(1, len(MS_SSIM_WEIGHTS)):
            pair = _halve(pair)
            ssim_c, cs_c = _ssim_and_cs(pair)
            factors.append(torch.relu(ssim_c if level == len(MS_SSIM_WEIGHTS) - 1 else cs_c))
        weights = torch.tensor(MS_SSIM_WEIGHTS, device=pair.device).view(-1, 1)
        per_channel = torch.prod(torch.stack(factors) ** weights, dim=0)
        return Quality(value_psnr, value_ssim, float(per_channel.mean()))


def ssim(ref: np.ndarray, rec: np.ndarray) -> float:
    """Mean SSIM over the RGB channels."""
    return quality(ref, rec).ssim


def ms_ssim(ref: np.ndarray, rec: np.ndarray) -> tuple[float | None, str | None]:
    """(MS-SSIM, None), or (None, reason) when a side is ≤ 160 px."""
    result = quality(ref, rec)
    return result.ms_ssim, result.ms_ssim_reason
