"""Zoo-style checkpoint files: finding them, checksums, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workers.helpers import save_checkpoint
from workers.codecs.checkpoints import (
    CheckpointSpec,
    checkpoint_name,
    find_checkpoint,
    load_checkpoint,
    sha256_file,
)
from workers.codecs.errors import CorruptCheckpointError, WeightsMissingError
from workers.codecs.zoo import channels, hyperprior_checkpoint


def test_zoo_names_match_compressai() -> None:
    from compressai.zoo.image import cfgs, model_urls

    for metric in ("mse", "ms-ssim"):
        for quality in range(1, 9):
            spec = hyperprior_checkpoint(metric, quality)
            assert spec.url == model_urls["bmshj2018-hyperprior"][metric][quality]
            assert channels(quality) == cfgs["bmshj2018-hyperprior"][quality]
    expected = "bmshj2018-hyperprior-3-6d87be32.pth.tar"
    assert hyperprior_checkpoint("mse", 3).upstream_name == expected


def test_missing_file_says_what_and_where(tmp_path: Path) -> None:
    spec = hyperprior_checkpoint("ms-ssim", 3)
    with pytest.raises(WeightsMissingError) as info:
        find_checkpoint(tmp_path, spec)
    assert "bmshj2018-hyperprior-ms-ssim-3-92dd7878.pth.tar" in info.value.missing
    assert str(tmp_path) in info.value.missing


def test_checksum_mismatch_is_corrupt(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path, "demo-1", 8, 8)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpointError, match="does not match"):
        load_checkpoint(find_checkpoint(tmp_path, CheckpointSpec("demo-1")))


def test_writing_replaces_the_older_file_of_a_stem(tmp_path: Path) -> None:
    first = save_checkpoint(tmp_path, "demo-1", 8, 8, seed=1)
    second = save_checkpoint(tmp_path, "demo-1", 8, 8, seed=2)
    assert first != second and sorted(tmp_path.iterdir()) == [second]
    assert second.name == checkpoint_name("demo-1", sha256_file(second))


def test_unreadable_file_with_valid_name_is_corrupt(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a checkpoint")
    path = junk.rename(tmp_path / checkpoint_name("demo-1", sha256_file(junk)))
    with pytest.raises(CorruptCheckpointError, match="cannot be read"):
        load_checkpoint(path)


def test_several_candidates_are_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, "demo-1", 8, 8, seed=1)
    other = save_checkpoint(tmp_path / "other", "demo-1", 8, 8, seed=2)
    other.rename(tmp_path / other.name)
    with pytest.raises(CorruptCheckpointError, match="several"):
        find_checkpoint(tmp_path, CheckpointSpec("demo-1"))
