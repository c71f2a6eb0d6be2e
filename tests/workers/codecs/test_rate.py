"""Per-image rate matching (paper, appendix 1.4) on a codec with known rates."""

from __future__ import annotations

import numpy as np
import pytest

from workers.codecs.base import Availability, Codec, EncodeResult
from workers.codecs.rate import RateSpec, encode_setting, rate_match


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
    result = encode_setting(codec, RateSpec("JPEG AI 25", level=2, target_bpp=0.25), IMAGE)
    assert codec.calls == [2]
    assert result.params["target_bpp"] == 0.25 and result.params["achieved_bpp"] == 0.8


def test_setting_needs_level_or_target() -> None:
    with pytest.raises(ValueError, match="level or a target"):
        RateSpec("nothing")


def test_c2_rate_matches_over_the_zoo_qualities(tmp_path) -> None:
    """C2 with eight random checkpoints in the zoo's MS-SSIM names, their analysis transforms
    scaled by 1.5^q so that the rate rises with the quality as in the real zoo."""
    import torch
    from compressai.models import ScaleHyperprior
    from PIL import Image
    from skimage import data

    from workers.codecs.checkpoints import sha256_file, write_checkpoint
    from workers.codecs.pipeline import run_one
    from workers.codecs.zoo import QUALITIES, channels, hyperprior_stem

    for quality in QUALITIES:
        torch.manual_seed(0)
        model = ScaleHyperprior(*channels(quality))
        with torch.no_grad():
            model.g_a[-1].weight.mul_(1.5**quality)
        write_checkpoint(model.state_dict(), tmp_path, hyperprior_stem("ms-ssim", quality))
    src = tmp_path / "astronaut.png"
    Image.fromarray(np.ascontiguousarray(data.astronaut()[:256, :256])).save(src)
    low = run_one("02", "low", src, tmp_path / "out", device="cpu", weights_dir=tmp_path)
    high = run_one("02", "high", src, tmp_path / "out", device="cpu", weights_dir=tmp_path)
    for row, target in ((low, 0.25), (high, 0.75)):
        trials = {int(level): rate for level, rate in row.params["rate_trials"].items()}
        assert row.target_bpp == target and row.bpp == trials[row.level]
        assert row.params["achieved_bpp"] == row.bpp
        # The chosen level is the nearest of those around the target.
        below = max((r for r in trials.values() if r < target), default=None)
        above = min((r for r in trials.values() if r >= target), default=None)
        nearest = min((r for r in (below, above) if r is not None), key=lambda r: abs(r - target))
        assert row.bpp == nearest
        weights = tmp_path / row.params["weights_file"]
        assert weights.name.startswith(f"bmshj2018-hyperprior-ms-ssim-{row.level}-")
        # The provenance names the checkpoint that coded this image, with its checksum.
        assert row.provenance.level == row.level and row.provenance.weights_file == weights.name
        assert row.provenance.weights_sha256 == sha256_file(weights)
        assert len(trials) < len(QUALITIES)  # a bisection, not every level
    assert low.level < high.level and low.bpp < high.bpp
    assert low.scores is not None and low.scores.ms_ssim is not None
    assert high.scores is not None and high.scores.psnr is not None
