"""Per-image rate matching (paper, appendix 1.4) on a codec with known rates."""

from __future__ import annotations

import numpy as np
import pytest

from workers.codecs.base import Availability, Codec, EncodeResult
from workers.codecs.rate import SettingSpec, encode_setting, rate_match


class FixedRateCodec(Codec):
    """A stand-in whose bitstream at level ``q`` has ``rates[q]`` bpp on a 10 × 10 image."""

    codec_id = "99"
    name = "fixed-rate"

    def __init__(self, rates: dict[int, float]) -> None:
        self.rates = rates
        self.levels = tuple(sorted(rates))
        self.calls: list[int] = []

    def available(self) -> Availability:
        return Availability.yes()

    def encode(self, rgb: np.ndarray, level: int) -> EncodeResult:
        self.calls.append(level)
        size = round(self.rates[level] * 100 / 8)
        return EncodeResult(b"x" * size, level, 10, 10, {"level": level})

    def decode(self, bitstream: bytes) -> np.ndarray:
        raise NotImplementedError


IMAGE = np.zeros((10, 10, 3), np.uint8)


@pytest.mark.parametrize(
    ("target", "expected"),
    [(0.25, 3), (0.7, 5), (0.1, 1), (5.0, 8), (0.48, 4)],
)
def test_nearest_level_is_chosen(target: float, expected: int) -> None:
    rates = {1: 0.08, 2: 0.16, 3: 0.24, 4: 0.4, 5: 0.64, 6: 0.96, 7: 1.28, 8: 1.6}
    codec = FixedRateCodec(rates)
    result = rate_match(codec, IMAGE, target)
    assert result.level == expected
    assert result.params["achieved_bpp"] == result.bpp
    assert result.params["target_bpp"] == target
    assert set(result.params["rate_trials"]) == {str(q) for q in codec.calls}
    assert len(codec.calls) == len(set(codec.calls)) <= 4


def test_bisection_over_a_hundred_qualities_needs_few_encodes() -> None:
    codec = FixedRateCodec({q: q / 40 for q in range(1, 101)})
    result = rate_match(codec, IMAGE, 0.75)
    assert result.level == 30
    assert len(codec.calls) <= 8


def test_setting_with_a_level_does_not_search() -> None:
    codec = FixedRateCodec({1: 0.2, 2: 0.8})
    result = encode_setting(codec, SettingSpec("JPEG AI 25", level=2, target_bpp=0.25), IMAGE)
    assert codec.calls == [2]
    assert result.params["target_bpp"] == 0.25 and result.params["achieved_bpp"] == 0.8


def test_setting_needs_level_or_target() -> None:
    with pytest.raises(ValueError, match="level or a target"):
        SettingSpec("nothing")
