"""The bitstream header and input checks shared by every codec."""

from __future__ import annotations

import numpy as np
import pytest

from workers.codecs.base import (
    HEADER_BYTES,
    EncodeResult,
    Header,
    check_rgb,
    pack,
    unpack,
)
from workers.codecs.errors import BitstreamError, ImageTooSmallError, InvalidImageError


def test_header_round_trip() -> None:
    header = Header("01", 7, 1536, 2304, 1)
    stream = pack(header, b"payload")
    assert len(stream) == HEADER_BYTES + 7
    back, payload = unpack(stream, "01")
    assert back == header and payload == b"payload"
    assert back.device_type == "cuda"


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"SCLC", "shorter"),
        (b"XXXX" + bytes(HEADER_BYTES), "magic"),
        (pack(Header("90", 1, 8, 8), b"x"), "made by codec '90'"),
    ],
)
def test_bad_bitstreams(stream: bytes, message: str) -> None:
    with pytest.raises(BitstreamError, match=message):
        unpack(stream, "01")


def test_bpp_counts_real_bytes_over_unpadded_pixels() -> None:
    result = EncodeResult(b"x" * 300, 3, width=40, height=30)
    assert result.bpp == 8 * 300 / (40 * 30) == 2.0


def test_check_rgb() -> None:
    with pytest.raises(InvalidImageError, match="uint8"):
        check_rgb(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(InvalidImageError, match="numpy"):
        check_rgb([[0, 0, 0]])
    with pytest.raises(ImageTooSmallError, match="≥ 64 px"):
        check_rgb(np.zeros((63, 100, 3), np.uint8), min_side=64)
    view = np.zeros((10, 20, 3), np.uint8)[:, ::2]
    assert check_rgb(view).flags.c_contiguous
