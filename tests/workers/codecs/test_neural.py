"""C1 (scale hyperprior, CompressAI) through the registry, on self-made zoo-style weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.workers.codecs.tolerance import assert_close_length, assert_close_reconstruction
from tests.workers.helpers import save_checkpoint
from workers.codecs.base import FLAG_CUDA, HEADER_BYTES, unpack
from workers.codecs.errors import (
    BitstreamError,
    CorruptCheckpointError,
    ImageTooSmallError,
    WeightsMissingError,
)
from workers.codecs.rate import encode_setting
from workers.codecs.registry import availability, build_codec, get_entry


def test_c1_codes_and_decodes(zoo_dir: Path, photo: np.ndarray) -> None:
    codec = build_codec("01", zoo_dir, "cpu")
    result = encode_setting(codec, get_entry("01").setting("low"), photo)
    assert result.level == 3
    assert result.bpp == 8 * len(result.bitstream) / (256 * 192)
    assert result.params["weights_file"].startswith("bmshj2018-hyperprior-3-")
    header, _ = unpack(result.bitstream, "01")
    assert (header.height, header.width, header.device_type) == (192, 256, "cpu")
    rec = codec.decode(result.bitstream)
    assert rec.shape == photo.shape and rec.dtype == np.uint8

    again = codec.encode(photo, 3)
    assert again.bitstream == result.bitstream
    assert np.array_equal(codec.decode(again.bitstream), rec)


@pytest.mark.usefixtures("one_thread")
def test_a_fresh_process_loading_the_weights_again_gives_the_same_bytes_and_pixels(
    zoo_dir: Path, photo: np.ndarray, tmp_path: Path
) -> None:
    """Same machine and thread count (results depend on it): the same bytes and pixels."""
    import hashlib
    import os
    import subprocess
    import sys

    codec = build_codec("01", zoo_dir, "cpu")
    bitstream = codec.encode(photo, 3).bitstream
    pixels = codec.decode(bitstream)
    np.save(tmp_path / "photo.npy", photo)
    code = (
        "import hashlib, sys, numpy as np; from workers.codecs.registry import build_codec; "
        "c = build_codec('01', sys.argv[1], 'cpu'); "
        "b = c.encode(np.load(sys.argv[2]), 3).bitstream; "
        "print(hashlib.sha256(b).hexdigest(), hashlib.sha256(c.decode(b).tobytes()).hexdigest())"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(zoo_dir), str(tmp_path / "photo.npy")],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "SCLIC_TORCH_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert fresh == [
        hashlib.sha256(bitstream).hexdigest(),
        hashlib.sha256(pixels.tobytes()).hexdigest(),
    ]


def test_a_batch_gives_each_image_its_own_bitstream(zoo_dir: Path, photo: np.ndarray) -> None:
    """Coded in one batch or alone, an image gets its own bitstream and nearly its own pixels:
    the same bytes on the CPUs tried, but batched convolutions may round a latent otherwise on
    another CPU (:mod:`tests.workers.codecs.tolerance`)."""
    codec = build_codec("01", zoo_dir, "cpu")
    images = [photo, np.ascontiguousarray(photo[::-1]), np.ascontiguousarray(photo[:67, :130])]
    batch = codec.encode_many(images, 3)
    alone = [codec.encode(image, 3) for image in images]
    # The two 256 × 192 images went through the model together, the third alone.
    assert [r.params["batch"] for r in batch] == [2, 2, 1]
    decoded = codec.decode_many([r.bitstream for r in batch])
    for image, batched, result, pixels in zip(images, batch, alone, decoded, strict=True):
        assert pixels.shape == image.shape
        # Decoding is one image at a time, batch or not: exactly the pixels of decode().
        assert np.array_equal(pixels, codec.decode(batched.bitstream))
        assert_close_length(len(batched.bitstream), len(result.bitstream))
        assert_close_reconstruction(pixels, codec.decode(result.bitstream))


def test_sizes_not_multiple_of_64_are_padded_and_cropped(zoo_dir: Path, photo: np.ndarray) -> None:
    codec = build_codec("01", zoo_dir, "cpu")
    odd = np.ascontiguousarray(photo[:67, :130])
    assert codec.decode(codec.encode(odd, 3).bitstream).shape == (67, 130, 3)


def test_too_small_image(zoo_dir: Path) -> None:
    codec = build_codec("01", zoo_dir, "cpu")
    with pytest.raises(ImageTooSmallError, match="64"):
        codec.encode(np.zeros((32, 200, 3), np.uint8), 3)


def test_missing_high_checkpoint(zoo_dir: Path, photo: np.ndarray) -> None:
    assert not availability("01", zoo_dir).ok
    assert "bmshj2018-hyperprior-7-3804dcbd.pth.tar" in availability("01", zoo_dir).missing
    codec = build_codec("01", zoo_dir, "cpu")
    with pytest.raises(WeightsMissingError, match="hyperprior-7"):
        codec.encode(photo, 7)


def test_wrong_channels_for_quality(tmp_path: Path, photo: np.ndarray) -> None:
    save_checkpoint(tmp_path, "bmshj2018-hyperprior-7", 16, 16)
    codec = build_codec("01", tmp_path, "cpu")
    with pytest.raises(CorruptCheckpointError, match="expected \\(192, 320\\)"):
        codec.encode(photo, 7)


def test_not_a_hyperprior_checkpoint(tmp_path: Path, photo: np.ndarray) -> None:
    import torch

    from workers.codecs.checkpoints import checkpoint_name, sha256_file

    tmp = tmp_path / "x"
    torch.save({"g_a.0.weight": torch.zeros(4, 3, 5, 5)}, tmp)
    tmp.rename(tmp_path / checkpoint_name("bmshj2018-hyperprior-3", sha256_file(tmp)))
    with pytest.raises(CorruptCheckpointError, match="ScaleHyperprior"):
        build_codec("01", tmp_path, "cpu").encode(photo, 3)


def test_bitstream_from_another_device_type_is_refused(zoo_dir: Path, photo: np.ndarray) -> None:
    codec = build_codec("01", zoo_dir, "cpu")
    stream = bytearray(codec.encode(photo, 3).bitstream)
    stream[HEADER_BYTES - 1] |= FLAG_CUDA
    with pytest.raises(BitstreamError, match="encoded on cuda"):
        codec.decode(bytes(stream))


def test_truncated_payload(zoo_dir: Path, photo: np.ndarray) -> None:
    codec = build_codec("01", zoo_dir, "cpu")
    stream = codec.encode(photo, 3).bitstream
    with pytest.raises(BitstreamError, match="truncated"):
        codec.decode(stream[: HEADER_BYTES + 6])
