"""How the codec tests compare float results: against stored pixels, with a stated tolerance.

A neural codec's pixels come from float convolutions whose rounding depends on the CPU's vector
instructions, the kernels torch picks and the thread count (paper, appendix 1.4.1). Measured on
the demo codec: oneDNN's SSE4.1 kernels against its AVX-512 ones moved 2 of 49 152 pixels by one
grey level (96.8 dB against each other); a latent that rounds the other way at encoding (one
latent off by one) costs at worst 56.5 dB over 40 random latents. A wrong model, wrong weights
or a broken coder lands far below 40 dB. So the tests ask:

- decoding the *same bitstream* elsewhere: every pixel within :data:`MAX_GREY_STEP` of the
  stored reconstruction (only the last rounding of the synthesis can differ);
- coding the *same source* elsewhere: PSNR against the stored reconstruction of at least
  :data:`MIN_PSNR_DB` (a latent may round the other way), and a bitstream within
  :data:`BITSTREAM_BYTES_TOLERANCE` of the stored length.
"""

from __future__ import annotations

import math

import numpy as np

MAX_GREY_STEP = 1
MIN_PSNR_DB = 50.0
BITSTREAM_BYTES_TOLERANCE = 0.02


def psnr_db(got: np.ndarray, expected: np.ndarray) -> float:
    """PSNR of two ``uint8`` images in dB (``inf`` when identical)."""
    assert got.shape == expected.shape and got.dtype == expected.dtype == np.uint8
    mse = float(np.mean((got.astype(np.int32) - expected.astype(np.int32)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def assert_within_a_grey_step(got: np.ndarray, expected: np.ndarray) -> None:
    """Every value within :data:`MAX_GREY_STEP` of ``expected``."""
    assert got.shape == expected.shape, (got.shape, expected.shape)
    step = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    assert step.max() <= MAX_GREY_STEP, (
        f"{int((step > MAX_GREY_STEP).sum())} values differ by more than {MAX_GREY_STEP} "
        f"(largest {int(step.max())}; {psnr_db(got, expected):.1f} dB)"
    )


def assert_close_reconstruction(got: np.ndarray, expected: np.ndarray) -> None:
    """PSNR of ``got`` against ``expected`` at least :data:`MIN_PSNR_DB`."""
    quality = psnr_db(got, expected)
    assert quality >= MIN_PSNR_DB, f"{quality:.1f} dB against the reference (< {MIN_PSNR_DB})"


def assert_close_length(got: int, expected: int) -> None:
    """A bitstream length within :data:`BITSTREAM_BYTES_TOLERANCE` of ``expected``."""
    assert abs(got - expected) <= BITSTREAM_BYTES_TOLERANCE * expected, (got, expected)
