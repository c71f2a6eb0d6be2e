"""The shipped demo codec (id "90") against reference data stored in ``reference/``.

What is exact on every x86-64 and arm64 machine is tested exactly: the bitstream header (integers
packed big-endian by :mod:`struct`) and the weight files' SHA-256 (bytes on disk). What floats
decide is compared with the tolerances of :mod:`tests.workers.codecs.tolerance`: the pixels of
a decoded bitstream, and the entropy-coded payload, whose bytes depend on how the analysis
transform's latents round (paper, appendix 1.4.1; docs/bitstreams.md). On one machine the same
bitstream gives the same pixels, in any process: that is tested exactly too.

After retraining the demo weights, write new references with
``python -m tests.workers.codecs.test_demo_codec`` (and say so in the commit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.workers.codecs.tolerance import (
    assert_close_length,
    assert_close_reconstruction,
    assert_within_a_grey_step,
)
from workers.codecs.base import HEADER_BYTES, unpack
from workers.codecs.checkpoints import sha256_file
from workers.codecs.registry import DEMO_WEIGHTS_DIR, availability, build_codec

REFERENCE = Path(__file__).with_name("reference")
REPO = Path(__file__).resolve().parents[3]
LEVELS = (1, 2)
# "SCLC", version 1, codec "90", the level, height 192, width 256, flags 0 (encoded on a CPU).
HEADERS = {
    1: "53434c430139300001000000c00000010000",
    2: "53434c430139300002000000c00000010000",
}


def reference_pixels(level: int) -> np.ndarray:
    with Image.open(REFERENCE / f"demo90-{level}.png") as image:
        return np.asarray(image.convert("RGB"))


def reference_bitstream(level: int) -> bytes:
    return (REFERENCE / f"demo90-{level}.sclc").read_bytes()


def reference_record() -> dict:  # type: ignore[type-arg]
    return json.loads((REFERENCE / "demo90.json").read_text())


@pytest.mark.parametrize("level", LEVELS)
def test_the_header_is_exact(photo: np.ndarray, level: int) -> None:
    """Integers packed big-endian: the same bytes on every machine and in the reference."""
    bitstream = build_codec("90", device="cpu").encode(photo, level).bitstream
    assert bitstream[:HEADER_BYTES].hex() == HEADERS[level]
    assert reference_bitstream(level)[:HEADER_BYTES].hex() == HEADERS[level]
    header, _ = unpack(bitstream, "90")
    assert (header.level, header.height, header.width, header.device_type) == (
        level,
        192,
        256,
        "cpu",
    )


def test_the_weights_are_those_the_references_were_made_with() -> None:
    """A file's SHA-256 is exact: if it changed, the references below are stale."""
    for level in LEVELS:
        [path] = sorted(DEMO_WEIGHTS_DIR.glob(f"sclic-demo-hyperprior-{level}-*.pth.tar"))
        assert sha256_file(path) == reference_record()["weights_sha256"][str(level)]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("level", LEVELS)
def test_the_stored_bitstream_decodes_within_a_grey_step(level: int) -> None:
    """A released bitstream decoded here: only the synthesis transform's last rounding may
    differ from the machine that made the reference."""
    assert availability("90").ok, availability("90").missing
    decoded = build_codec("90", device="cpu").decode(reference_bitstream(level))
    assert_within_a_grey_step(decoded, reference_pixels(level))


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("level", LEVELS)
def test_coding_the_photo_here_is_close_to_the_reference(photo: np.ndarray, level: int) -> None:
    """Encoding again: a latent may round the other way here, so the payload's bytes may differ;
    its length and the reconstruction stay within the stated tolerances."""
    codec = build_codec("90", device="cpu")
    result = codec.encode(photo, level)
    assert_close_length(len(result.bitstream), len(reference_bitstream(level)))
    assert_close_reconstruction(codec.decode(result.bitstream), reference_pixels(level))


@pytest.mark.usefixtures("one_thread")
def test_a_bitstream_gives_the_same_pixels_in_another_process(
    photo: np.ndarray, tmp_path: Path
) -> None:
    """Same machine, same thread count, same bitstream: the same pixels, bit for bit."""
    codec = build_codec("90", device="cpu")
    bitstream = codec.encode(photo, 2).bitstream
    (tmp_path / "photo.sclc").write_bytes(bitstream)
    code = (
        "import sys, numpy as np; from workers.codecs.registry import build_codec; "
        "c = build_codec('90', device='cpu'); "
        "np.save(sys.argv[2], c.decode(open(sys.argv[1], 'rb').read()))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "photo.sclc"), str(tmp_path / "pixels.npy")],
        cwd=REPO,
        env={**os.environ, "SCLIC_TORCH_THREADS": "1"},
        check=True,
    )
    assert np.array_equal(np.load(tmp_path / "pixels.npy"), codec.decode(bitstream))


def test_low_and_high_rates_are_ordered(photo: np.ndarray) -> None:
    codec = build_codec("90", device="cpu")
    low, high = codec.encode(photo, 1), codec.encode(photo, 2)
    assert low.bpp < high.bpp


def test_cuda_codes_deterministically_or_says_it_is_missing(photo: np.ndarray) -> None:
    import torch

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


def write_references() -> None:
    """Code the test photo at both levels on one torch thread and store the results."""
    import torch

    from tests.workers.conftest import astronaut_crop
    from workers.codecs.provenance import ProvenanceMaker
    from workers.codecs.registry import get_entry

    torch.set_num_threads(1)
    codec = build_codec("90", device="cpu")
    REFERENCE.mkdir(exist_ok=True)
    record: dict[str, dict[str, object]] = {"weights_sha256": {}, "made_by": {}}
    for level in LEVELS:
        result = codec.encode(astronaut_crop(), level)
        (REFERENCE / f"demo90-{level}.sclc").write_bytes(result.bitstream)
        Image.fromarray(codec.decode(result.bitstream)).save(REFERENCE / f"demo90-{level}.png")
        record["weights_sha256"][str(level)] = result.params["weights_sha256"]
        setting, spec = next(
            (k, s) for k, s in get_entry("90").settings.items() if s.level == level
        )
        maker = ProvenanceMaker.of(codec.describe(), "", setting, spec.label)
        record["made_by"][str(level)] = maker.provenance(level, result.params).to_dict()
    (REFERENCE / "demo90.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_references()
