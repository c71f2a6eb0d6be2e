"""JPEG and WebP controls through Pillow, rate-matched to the paper's target rates."""

from __future__ import annotations

import numpy as np
import pytest

from workers.codecs.rate import encode_setting
from workers.codecs.registry import build_codec, get_entry
from workers.metrics import psnr


@pytest.mark.parametrize("codec_id", ["91", "92"])
@pytest.mark.parametrize("setting", ["low", "high"])
def test_quality_search_reaches_target(codec_id: str, setting: str, photo: np.ndarray) -> None:
    codec = build_codec(codec_id)
    spec = get_entry(codec_id).setting(setting)
    result = encode_setting(codec, spec, photo)
    assert result.params["achieved_bpp"] == result.bpp
    assert abs(result.bpp - spec.target_bpp) < 0.5 * spec.target_bpp
    assert len(result.params["rate_trials"]) <= 8
    rec = codec.decode(result.bitstream)
    assert rec.shape == photo.shape and psnr(photo, rec) > 18
    assert encode_setting(codec, spec, photo).bitstream == result.bitstream
