"""Scale-hyperprior codecs on CompressAI (Ballé et al., ICLR 2018; paper, appendix 1.2.1).

C1 (MSE) and C2 (MS-SSIM) use the zoo's ``bmshj2018-hyperprior`` checkpoints; the demo codec
uses small checkpoints trained by ``workers/training/train_demo_codec.py`` in the same format.
Each level is one checkpoint, loaded offline with ``ScaleHyperprior.from_state_dict`` after the
checksum check, then ``update(force=True)`` before real entropy coding with ``compress`` /
``decompress``. Images are padded to a multiple of 64 by replicating the border and cropped back.

Determinism (paper, appendix 1.4.1): seeds are fixed, deterministic algorithms requested, cuDNN
autotuning and TF32 are off, the entropy-coder tables are built on the CPU, and a bitstream
records the device type it was encoded on; decoding on another device type is refused. On the
CPU, results also depend on torch's thread count (measured: 1 and 2 threads give different
bytes for some images), so ``SCLIC_TORCH_THREADS`` pins it for every process of a deployment.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from workers.codecs.base import (
    FLAG_CUDA,
    Availability,
    Codec,
    EncodeResult,
    Header,
    check_rgb,
    pack,
    unpack,
)
from workers.codecs.checkpoints import (
    CheckpointSpec,
    checkpoints_available,
    find_checkpoint,
    load_checkpoint,
)
from workers.codecs.errors import (
    BitstreamError,
    CodecUnavailableError,
    CorruptCheckpointError,
)

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402  (the cuBLAS setting must precede CUDA initialisation)

PAD_MULTIPLE = 64
SEED = 0
_LEN = struct.Struct(">I")


@lru_cache(maxsize=1)
def configure_determinism() -> None:
    """Fix seeds and ask torch for deterministic kernels, once per process (paper, 1.4.1)."""
    threads = os.environ.get("SCLIC_TORCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def resolve_device(device: str | None = None) -> str:
    """``"cpu"`` or ``"cuda"``; ``None``/``"auto"`` picks CUDA when present."""
    if not device or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind = torch.device(device).type
    if kind == "cuda" and not torch.cuda.is_available():
        raise CodecUnavailableError(
            "device 'cuda' requested but torch sees no CUDA device",
            missing="a CUDA device (or run with device='cpu')",
        )
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return device


@dataclass(frozen=True)
class LoadedModel:
    """A ready ``ScaleHyperprior`` and the checkpoint it came from."""

    model: Any
    path: Path
    sha256: str
    channels: tuple[int, int]


@lru_cache(maxsize=24)
def _load_cached(path_str: str, mtime_ns: int, size: int, device: str) -> LoadedModel:
    from compressai.models import ScaleHyperprior

    path = Path(path_str)
    state, digest = load_checkpoint(path)
    try:
        model = ScaleHyperprior.from_state_dict(state)
    except (KeyError, RuntimeError, ValueError, IndexError) as exc:
        raise CorruptCheckpointError(
            f"{path}: not a bmshj2018-hyperprior (ScaleHyperprior) checkpoint ({exc})"
        ) from exc
    model.eval()
    model.update(force=True)
    model.to(device)
    return LoadedModel(model, path, digest, (model.N, model.M))


def load_model(path: Path, device: str) -> LoadedModel:
    """Load (once per process) a verified hyperprior checkpoint onto ``device``."""
    stat = path.stat()
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, device)


def rgb_to_tensor(rgb: np.ndarray, device: str) -> torch.Tensor:
    """``uint8 [H, W, 3]`` → float ``[1, 3, H, W]`` in [0, 1] on ``device``."""
    if not rgb.flags.writeable:
        rgb = rgb.copy()
    x = torch.from_numpy(rgb).to(device)
    return x.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def tensor_to_rgb(x: torch.Tensor) -> np.ndarray:
    """float ``[1, 3, H, W]`` in [0, 1] → ``uint8 [H, W, 3]`` (rounded, as CompressAI's eval)."""
    rounded = x[0].clamp(0.0, 1.0).mul_(255.0).round_()
    # Interleaving while casting is one pass; casting first and then interleaving bytes is slower.
    rgb = torch.empty((*rounded.shape[1:], 3), dtype=torch.uint8, device=rounded.device)
    rgb.copy_(rounded.permute(1, 2, 0))
    return rgb.cpu().numpy()


def pad_to_multiple(x: torch.Tensor, multiple: int = PAD_MULTIPLE) -> torch.Tensor:
    """Replicate-pad right and bottom so both sides are multiples of ``multiple``."""
    height, width = x.shape[-2:]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    return torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")


def latent_shape(height: int, width: int) -> tuple[int, int]:
    """Shape of the hyper-latent ``z`` for an image padded to a multiple of 64."""
    return math.ceil(height / PAD_MULTIPLE), math.ceil(width / PAD_MULTIPLE)


def _same_size(images: Sequence[np.ndarray]) -> dict[tuple[int, int], list[int]]:
    """Indices of the images, grouped by (height, width) in first-seen order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault((image.shape[0], image.shape[1]), []).append(i)
    return groups


class HyperpriorCodec(Codec):
    """A ``ScaleHyperprior`` codec with one checkpoint per level.

    ``checkpoints`` maps each level (ascending quality) to its checkpoint spec; ``channels``
    optionally gives the (N, M) each level must have. Payload: ``len(y) : u32``, ``y``, ``z``.
    """

    min_side = PAD_MULTIPLE
    batches = True

    def __init__(
        self,
        codec_id: str,
        name: str,
        checkpoints: Mapping[int, CheckpointSpec],
        weights_dir: Path,
        device: str | None = None,
        channels: Mapping[int, tuple[int, int]] | None = None,
    ) -> None:
        self.codec_id = codec_id
        self.name = name
        self.levels = tuple(sorted(checkpoints))
        self.checkpoints = dict(checkpoints)
        self.channels = dict(channels or {})
        self.weights_dir = Path(weights_dir)
        self._device = device

    @property
    def device(self) -> str:
        return resolve_device(self._device)

    def available(self) -> Availability:
        return checkpoints_available(self.weights_dir, self.checkpoints.values())

    def loaded(self, level: int) -> LoadedModel:
        """The verified model of ``level`` on this codec's device."""
        spec = self.checkpoints[self.check_level(level)]
        configure_determinism()
        loaded = load_model(find_checkpoint(self.weights_dir, spec), self.device)
        expected = self.channels.get(level)
        if expected is not None and loaded.channels != expected:
            raise CorruptCheckpointError(
                f"{loaded.path.name}: has N, M = {loaded.channels}, expected {expected}"
            )
        return loaded

    def encode(self, rgb: np.ndarray, level: int) -> EncodeResult:
        return self.encode_many([rgb], level)[0]

    def encode_many(self, rgbs: Sequence[np.ndarray], level: int) -> list[EncodeResult]:
        """Images of one size go through the model as one batch (the entropy coder still
        writes one bitstream per image). Each bitstream equals the image's own ``encode`` on
        the CPUs tested; a CPU or GPU whose batched convolutions round differently may give
        other bytes, which is why ``SCLIC_CODEC_BATCH`` defaults to 1."""
        images = [check_rgb(rgb, self.min_side, self.name) for rgb in rgbs]
        loaded = self.loaded(level)
        device = self.device
        flags = FLAG_CUDA if torch.device(device).type == "cuda" else 0
        results: list[EncodeResult | None] = [None] * len(images)
        for (height, width), indices in _same_size(images).items():
            with torch.inference_mode():
                x = torch.cat([pad_to_multiple(rgb_to_tensor(images[i], device)) for i in indices])
                out = loaded.model.compress(x)
            if tuple(out["shape"]) != latent_shape(height, width):
                raise BitstreamError(f"unexpected hyper-latent shape {tuple(out['shape'])}")
            for i, y_string, z_string in zip(indices, *out["strings"], strict=True):
                payload = _LEN.pack(len(y_string)) + y_string + z_string
                bitstream = pack(Header(self.codec_id, level, height, width, flags), payload)
                params = {
                    "level": level,
                    "weights_file": loaded.path.name,
                    "weights_sha256": loaded.sha256,
                    "channels": list(loaded.channels),
                    "y_bytes": len(y_string),
                    "z_bytes": len(z_string),
                    "padded_to": PAD_MULTIPLE,
                    "batch": len(indices),
                }
                results[i] = EncodeResult(bitstream, level, width, height, params)
        return [r for r in results if r is not None]

    def decode(self, bitstream: bytes) -> np.ndarray:
        return self.decode_many([bitstream])[0]

    def decode_many(self, bitstreams: Sequence[bytes]) -> list[np.ndarray]:
        """Each bitstream is decoded alone: a batched synthesis transform rounds differently
        on some CPUs (measured: 1 level off in a few pixels on an AMD EPYC), and a stored
        reconstruction must be what anyone decoding its bitstream later gets."""
        images = []
        for header, y_string, z_string in map(self._parse, bitstreams):
            loaded = self.loaded(header.level)
            with torch.inference_mode():
                out = loaded.model.decompress(
                    [[y_string], [z_string]], latent_shape(header.height, header.width)
                )
                images.append(tensor_to_rgb(out["x_hat"][..., : header.height, : header.width]))
        return images

    def _parse(self, bitstream: bytes) -> tuple[Header, bytes, bytes]:
        header, payload = unpack(bitstream, self.codec_id)
        if header.level not in self.levels:
            raise BitstreamError(f"bitstream level {header.level} is not one of {self.levels}")
        device = self.device
        if header.device_type != torch.device(device).type:
            raise BitstreamError(
                f"bitstream was encoded on {header.device_type}; decode it on "
                f"{header.device_type} too (this codec runs on {device})"
            )
        if len(payload) < _LEN.size:
            raise BitstreamError("truncated hyperprior payload")
        (y_len,) = _LEN.unpack_from(payload)
        y_string = payload[_LEN.size : _LEN.size + y_len]
        z_string = payload[_LEN.size + y_len :]
        if len(y_string) != y_len or not z_string:
            raise BitstreamError("truncated hyperprior payload")
        return header, y_string, z_string

    def describe(self) -> dict[str, Any]:
        import compressai

        return {
            **super().describe(),
            "device": self.device,
            "torch": torch.__version__,
            "compressai": compressai.__version__,
            "torch_threads": torch.get_num_threads(),
        }
