"""What made a reconstruction: the machine's description, read once per process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.workers.helpers import save_checkpoint
from workers.codecs.provenance import ProvenanceMaker, cpu_model_and_features, hardware

X86 = """processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) Platinum 8480+
flags		: fpu sse4_2 avx avx2 fma avx512f avx512bw amx_tile

processor	: 1
model name	: another model that is not read
"""
ARM = """processor	: 0
BogoMIPS	: 243.75
Features	: fp asimd evtstrm aes sve
CPU implementer	: 0x41
CPU part	: 0xd40
"""


def test_cpu_model_and_the_features_that_pick_float_kernels() -> None:
    assert cpu_model_and_features(X86) == (
        "Intel(R) Xeon(R) Platinum 8480+",
        ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "amx_tile"),
    )
    assert cpu_model_and_features(ARM) == ("0x41/0xd40", ("asimd", "sve"))
    model, _ = cpu_model_and_features("")
    assert model  # platform.processor() or "unknown CPU", never empty


def test_a_cpu_run_names_this_cpu() -> None:
    assert hardware("cpu") == cpu_model_and_features()[0]


def test_the_record_is_json_and_names_the_weights(zoo_dir: Path, photo: np.ndarray) -> None:
    from workers.codecs.checkpoints import sha256_file
    from workers.codecs.registry import build_codec

    codec = build_codec("01", zoo_dir, "cpu")
    result = codec.encode(photo, 3)
    made = ProvenanceMaker.of(codec.describe(), "C1", "low", "α = 3").provenance(
        result.level, result.params
    )
    [weights] = sorted(zoo_dir.glob("bmshj2018-hyperprior-3-*.pth.tar"))
    assert (made.weights_file, made.weights_sha256) == (weights.name, sha256_file(weights))
    assert made.device == "cpu" and made.level == 3 and made.torch_threads
    assert {"torch", "compressai", "numpy", "pillow"} <= set(made.versions)
    record = json.loads(json.dumps(made.to_dict()))
    assert record["weights_sha256"] == made.weights_sha256
    assert record["cpu_features"] == list(made.cpu_features)


def test_weights_are_hashed_once_per_process_not_per_image(
    tmp_path: Path, photo: np.ndarray, monkeypatch
) -> None:
    """The checksum comes from loading the checkpoint: five images, one hash of the file."""
    from workers.codecs import checkpoints
    from workers.codecs.registry import build_codec

    save_checkpoint(tmp_path, "bmshj2018-hyperprior-3", 128, 192)
    hashed: list[Path] = []
    real = checkpoints.sha256_file

    def counting(path: Path, chunk: int = 1 << 20) -> str:
        hashed.append(path)
        return real(path, chunk)

    monkeypatch.setattr(checkpoints, "sha256_file", counting)
    codec = build_codec("01", tmp_path, "cpu")
    digests = {codec.encode(photo, 3).params["weights_sha256"] for _ in range(5)}
    assert len(hashed) == 1 and digests == {real(hashed[0])}
