"""What the codec pipeline hands to the tasks and the command line: typed, frozen results.

One :class:`CodedImage` per image coded (its files, rate, provenance, times and, when measured
in place, its :class:`Scores`); :class:`Scores` alone for the ``cpu`` queue's measuring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.codecs.provenance import Provenance
from workers.metrics import Quality


@dataclass(frozen=True)
class Scores:
    """PSNR (None for a lossless result, with ``psnr_reason``), SSIM and MS-SSIM (None with
    ``ms_ssim_reason`` when a side is ≤ 160 px) of a reconstruction, and the seconds taken."""

    psnr: float | None
    ssim: float
    ms_ssim: float | None
    metrics_s: float
    psnr_reason: str | None = None
    ms_ssim_reason: str | None = None

    @classmethod
    def of(cls, quality: Quality, metrics_s: float) -> Scores:
        lossy = math.isfinite(quality.psnr)
        return cls(
            psnr=quality.psnr if lossy else None,
            ssim=quality.ssim,
            ms_ssim=quality.ms_ssim,
            metrics_s=metrics_s,
            psnr_reason=None if lossy else "identical to the source",
            ms_ssim_reason=quality.ms_ssim_reason,
        )

    def reasons(self) -> dict[str, Any]:
        """The JSON-ready details kept beside the metric columns."""
        return {
            "psnr_reason": self.psnr_reason,
            "ms_ssim_reason": self.ms_ssim_reason,
            "metrics_s": self.metrics_s,
        }


@dataclass(frozen=True)
class Timings:
    """Seconds spent on one image: reading its source, encoding, decoding, storing the files.
    Encode and decode times are a model pass's, shared out evenly over its images."""

    read_s: float
    encode_s: float
    decode_s: float
    store_s: float


@dataclass(frozen=True)
class CodedImage:
    """One source coded at one setting and stored under its blind name.

    ``params`` holds the codec's own JSON-ready details (model file, rate-matching trials, ...);
    ``provenance`` what made it (docs/bitstreams.md); ``scores`` is None when the metrics were
    left to the ``cpu`` queue.
    """

    source_png: Path
    blind_name: str
    reconstruction_path: Path
    bitstream_path: Path
    width: int
    height: int
    level: int
    bitstream_bytes: int
    bpp: float
    target_bpp: float | None
    params: Mapping[str, Any]
    provenance: Provenance
    timings: Timings
    scores: Scores | None = None

    @property
    def device(self) -> str:
        return self.provenance.device
