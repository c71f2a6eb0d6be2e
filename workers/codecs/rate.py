"""Codec settings and per-image rate matching (paper, section 3.1 and appendix 1.4).

Each codec runs at a low and a high setting meant to land near 0.25 and 0.75 bpp. A setting
either fixes a level (C1: α = 3 / 7) or asks for a target rate, reached per image by picking
the level whose real bpp is nearest the target (C2, the JPEG/WebP controls). The achieved bpp
and the levels tried are recorded with the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from workers.codecs.base import Codec, EncodeResult


@dataclass(frozen=True)
class RateSpec:
    """One compression setting: a fixed ``level``, or a ``target_bpp`` to rate-match.

    When both are given, the level is used and ``target_bpp`` is the rate the codec's own
    control aims at (C6 JPEG AI: ``--set_target_bpp 25`` is 0.25 bpp). ``label`` is the
    paper's wording, e.g. ``"α = 3"`` or ``"HiFiC-lo"``.
    """

    label: str
    level: int | None = None
    target_bpp: float | None = None

    def __post_init__(self) -> None:
        if self.level is None and self.target_bpp is None:
            raise ValueError(f"setting {self.label!r} needs a level or a target bpp")
        if self.target_bpp is not None and self.target_bpp <= 0:
            raise ValueError(f"setting {self.label!r}: target bpp must be positive")

    @property
    def rate_matched(self) -> bool:
        return self.level is None

    def describe(self) -> str:
        if self.level is None:
            return f"target {self.target_bpp:g} bpp (rate-matched)"
        text = f"level {self.level}"
        if self.target_bpp is not None:
            text += f", codec target {self.target_bpp:g} bpp"
        return f"{text} ({self.label})" if self.label else text


def rate_match(codec: Codec, rgb: np.ndarray, target_bpp: float) -> EncodeResult:
    """Encode ``rgb`` at the level whose bpp is nearest ``target_bpp``.

    Bisection over ``codec.levels`` (bpp is taken to rise with level), then the nearer of the
    two levels around the target; ties go to the lower rate. ``params`` gains ``target_bpp``,
    ``achieved_bpp`` and ``rate_trials`` (level → bpp of every encode tried).
    """
    levels = codec.levels
    trials: dict[int, EncodeResult] = {}

    def at(index: int) -> EncodeResult:
        level = levels[index]
        if level not in trials:
            trials[level] = codec.encode(rgb, level)
        return trials[level]

    low, high = -1, len(levels)
    while high - low > 1:
        mid = (low + high) // 2
        if at(mid).bpp >= target_bpp:
            high = mid
        else:
            low = mid
    around = [at(i) for i in (low, high) if 0 <= i < len(levels)]
    best = min(around, key=lambda r: (abs(r.bpp - target_bpp), r.bpp))
    params = {
        **best.params,
        "target_bpp": target_bpp,
        "achieved_bpp": best.bpp,
        "rate_trials": {str(level): r.bpp for level, r in sorted(trials.items())},
    }
    return replace(best, params=params)


def encode_setting(codec: Codec, setting: RateSpec, rgb: np.ndarray) -> EncodeResult:
    """Encode at a setting: its fixed level, or rate-matched to its target bpp."""
    return encode_setting_many(codec, setting, [rgb])[0]


def encode_setting_many(
    codec: Codec, setting: RateSpec, rgbs: Sequence[np.ndarray]
) -> list[EncodeResult]:
    """Several images at one setting: a fixed level codes them together where the codec can
    (``Codec.encode_many``); rate matching picks a level per image, so it codes one by one."""
    if setting.level is None:
        assert setting.target_bpp is not None
        return [rate_match(codec, rgb, setting.target_bpp) for rgb in rgbs]
    results = []
    for result in codec.encode_many(rgbs, setting.level):
        params = {**result.params, "achieved_bpp": result.bpp}
        if setting.target_bpp is not None:
            params["target_bpp"] = setting.target_bpp
        results.append(replace(result, params=params))
    return results
