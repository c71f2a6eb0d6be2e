"""The shipped demo codec (id "90"): golden bitstream hashes on a fixed scikit-image photo.

Any bit-level change in the model, its weights, the entropy coder or the header changes these
hashes. They are taken on one torch thread and hold for one CPU family (paper, appendix 1.4.1:
results may differ across hardware); after retraining the demo weights, update them from the
failure message.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from workers.codecs.registry import availability, build_codec

GOLDEN = {
    1: (
        "2db6d6c595d6a120bc7a968733fc9b72ed1b103499593a3c6664eae99e5cc582",
        "d68914aba310fd67deb790b84fecd8b96353992f1c870ce0264c0d410998aa36",
    ),
    2: (
        "ac204f4bc50b1da00001d34b08f583c04a2971452f4dc92b3c84966c6f651b16",
        "097e2620adec68706701d4ac29a995749da6774bb8a6afbc901700f1758ea89e",
    ),
}


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("level", [1, 2])
def test_golden_hashes(photo: np.ndarray, level: int) -> None:
    assert availability("90").ok, availability("90").missing
    codec = build_codec("90", device="cpu")
    result = codec.encode(photo, level)
    rec = codec.decode(result.bitstream)
    got = (
        hashlib.sha256(result.bitstream).hexdigest(),
        hashlib.sha256(rec.tobytes()).hexdigest(),
    )
    assert got == GOLDEN[level], f"level {level}: {got}"


def test_low_and_high_rates_are_ordered(photo: np.ndarray) -> None:
    codec = build_codec("90", device="cpu")
    low, high = codec.encode(photo, 1), codec.encode(photo, 2)
    assert low.bpp < high.bpp


def test_cuda_codes_deterministically_or_says_it_is_missing(photo: np.ndarray) -> None:
    import torch

    from workers.codecs.base import unpack
    from workers.codecs.errors import BitstreamError, CodecUnavailableError

    if not torch.cuda.is_available():
        with pytest.raises(CodecUnavailableError, match="CUDA"):
            build_codec("90", device="cuda").encode(photo, 1)
        return
    codec = build_codec("90", device="cuda")
    first, second = codec.encode(photo, 2), codec.encode(photo, 2)
    assert first.bitstream == second.bitstream
    assert unpack(first.bitstream)[0].device_type == "cuda"
    assert np.array_equal(codec.decode(first.bitstream), codec.decode(second.bitstream))
    with pytest.raises(BitstreamError, match="encoded on cuda"):
        build_codec("90", device="cpu").decode(first.bitstream)
