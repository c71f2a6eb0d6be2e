"""Upstream checkpoints of the scale-hyperprior models used for C1 and C2 (paper, appendix 1.2.1).

File names, checksums and channel counts are those of CompressAI 1.2.8's model zoo for
``bmshj2018-hyperprior`` (Ballé et al., ICLR 2018): qualities 1–8, optimised for MSE (C1) or
MS-SSIM (C2). Qualities 1–5 use N=128, M=192; 6–8 use N=192, M=320.
"""

from __future__ import annotations

from workers.codecs.checkpoints import CheckpointSpec

ZOO_URL = "https://compressai.s3.amazonaws.com/models/v1"
QUALITIES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)

_SHA8: dict[str, dict[int, str]] = {
    "mse": {
        1: "7eb97409",
        2: "93677231",
        3: "6d87be32",
        4: "de1b779c",
        5: "f8b614e1",
        6: "1ab9c41e",
        7: "3804dcbd",
        8: "a583f0cf",
    },
    "ms-ssim": {
        1: "5cf249be",
        2: "1ff60d1f",
        3: "92dd7878",
        4: "4377354e",
        5: "c34afc8d",
        6: "3a6d8229",
        7: "8747d3bc",
        8: "cc15b5f3",
    },
}


def channels(quality: int) -> tuple[int, int]:
    """(N, M) of ``bmshj2018-hyperprior`` at a zoo quality."""
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {QUALITIES}, got {quality}")
    return (128, 192) if quality <= 5 else (192, 320)


def hyperprior_stem(metric: str, quality: int) -> str:
    """``bmshj2018-hyperprior-3`` (MSE) or ``bmshj2018-hyperprior-ms-ssim-3`` (MS-SSIM)."""
    if metric not in _SHA8:
        raise ValueError(f"metric must be 'mse' or 'ms-ssim', got {metric!r}")
    infix = "" if metric == "mse" else "ms-ssim-"
    return f"bmshj2018-hyperprior-{infix}{quality}"


def hyperprior_checkpoint(metric: str, quality: int) -> CheckpointSpec:
    """The zoo checkpoint of ``bmshj2018-hyperprior`` for ``metric`` at ``quality``."""
    channels(quality)
    stem = hyperprior_stem(metric, quality)
    name = f"{stem}-{_SHA8[metric][quality]}.pth.tar"
    return CheckpointSpec(stem=stem, upstream_name=name, url=f"{ZOO_URL}/{name}")
