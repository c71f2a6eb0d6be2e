"""The one interface every codec follows, and the small header every sclic bitstream starts with.

A codec turns an ``[H, W, 3]`` ``uint8`` RGB array into bytes at one of its ordered quality
``levels`` and back (paper, section 3.1: each codec C1–C6 is run at a low and a high setting).
The bytes are self-contained: a fixed 18-byte header records the codec id, level, image size and
the device type that encoded them, followed by the codec's own payload. Bits per pixel are always
computed from these real bytes over the unpadded image (paper, appendix 1.4).
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workers.codecs.errors import BitstreamError, ImageTooSmallError, InvalidImageError

MAGIC = b"SCLC"
HEADER_VERSION = 1
_HEADER = struct.Struct(">4sB2sHIIB")
HEADER_BYTES = _HEADER.size
FLAG_CUDA = 0x01


def bpp(num_bytes: int, width: int, height: int) -> float:
    """Bits per pixel of ``num_bytes`` real bytes over a ``width`` × ``height`` image."""
    if width <= 0 or height <= 0:
        raise ValueError("image sides must be positive")
    return 8.0 * num_bytes / (width * height)


@dataclass(frozen=True)
class Availability:
    """Whether a codec can run here; ``missing`` names the file or program and where it goes."""

    ok: bool
    missing: str = ""

    @classmethod
    def yes(cls) -> Availability:
        return cls(True, "")

    @classmethod
    def no(cls, missing: str) -> Availability:
        return cls(False, missing)


@dataclass(frozen=True)
class Header:
    """Decoded sclic bitstream header: codec id, level, unpadded size and encoding device type."""

    codec_id: str
    level: int
    height: int
    width: int
    flags: int = 0

    @property
    def device_type(self) -> str:
        return "cuda" if self.flags & FLAG_CUDA else "cpu"


def pack(header: Header, payload: bytes) -> bytes:
    """Header + payload → bitstream bytes."""
    if len(header.codec_id) != 2:
        raise ValueError(f"codec id must have two characters, got {header.codec_id!r}")
    raw = _HEADER.pack(
        MAGIC,
        HEADER_VERSION,
        header.codec_id.encode("ascii"),
        header.level,
        header.height,
        header.width,
        header.flags,
    )
    return raw + payload


def unpack(bitstream: bytes, codec_id: str | None = None) -> tuple[Header, bytes]:
    """Bitstream bytes → (header, payload); checks magic, version and, if given, the codec id."""
    if len(bitstream) < HEADER_BYTES:
        raise BitstreamError(
            f"bitstream of {len(bitstream)} bytes is shorter than the {HEADER_BYTES}-byte header"
        )
    magic, version, cid, level, height, width, flags = _HEADER.unpack_from(bitstream)
    if magic != MAGIC:
        raise BitstreamError("not a sclic bitstream (bad magic bytes)")
    if version != HEADER_VERSION:
        raise BitstreamError(f"unsupported sclic bitstream version {version}")
    header = Header(cid.decode("ascii", errors="replace"), level, height, width, flags)
    if codec_id is not None and header.codec_id != codec_id:
        raise BitstreamError(f"bitstream was made by codec {header.codec_id!r}, not {codec_id!r}")
    return header, bitstream[HEADER_BYTES:]


@dataclass(frozen=True)
class EncodeResult:
    """One encoded image: the full bitstream (header included), its level and coding parameters.

    ``params`` holds JSON-ready details (model file, quality, rate-matching trials, ...).
    """

    bitstream: bytes
    level: int
    width: int
    height: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def num_bytes(self) -> int:
        return len(self.bitstream)

    @property
    def bpp(self) -> float:
        return bpp(len(self.bitstream), self.width, self.height)


def check_rgb(rgb: object, min_side: int = 1, codec_name: str = "codec") -> np.ndarray:
    """Validate an ``[H, W, 3]`` ``uint8`` array and return it C-contiguous."""
    if not isinstance(rgb, np.ndarray):
        raise InvalidImageError(f"expected a numpy array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InvalidImageError(
            f"expected an [H, W, 3] uint8 array, got shape {rgb.shape} dtype {rgb.dtype}"
        )
    height, width = rgb.shape[:2]
    if min(height, width) < min_side:
        raise ImageTooSmallError(
            f"{codec_name} needs both sides ≥ {min_side} px, got {width}×{height}"
        )
    return np.ascontiguousarray(rgb)


class Codec(ABC):
    """A codec with ordered quality levels (lowest quality first).

    ``encode(rgb, level)`` takes an ``[H, W, 3]`` ``uint8`` array and returns an
    :class:`EncodeResult` whose bitstream carries everything ``decode`` needs; ``decode`` returns
    an ``[H, W, 3]`` ``uint8`` array of the original size. Same input on the same machine gives
    the same bytes and pixels.
    """

    codec_id: str
    name: str
    levels: tuple[int, ...]
    min_side: int = 1
    batches = False  # whether encode_many/decode_many code several images in one pass

    @abstractmethod
    def available(self) -> Availability:
        """Whether every file and program the codec needs is present."""

    @abstractmethod
    def encode(self, rgb: np.ndarray, level: int) -> EncodeResult:
        """RGB ``uint8`` ``[H, W, 3]`` + level → bitstream."""

    @abstractmethod
    def decode(self, bitstream: bytes) -> np.ndarray:
        """Bitstream → RGB ``uint8`` ``[H, W, 3]``."""

    def encode_many(self, rgbs: Sequence[np.ndarray], level: int) -> list[EncodeResult]:
        """Several images at one level; codecs that can code a batch at once override this.
        Each result is the same bytes that ``encode`` gives for that image alone."""
        return [self.encode(rgb, level) for rgb in rgbs]

    def decode_many(self, bitstreams: Sequence[bytes]) -> list[np.ndarray]:
        """Several bitstreams; each result is the same pixels that ``decode`` gives alone."""
        return [self.decode(bitstream) for bitstream in bitstreams]

    def check_level(self, level: int) -> int:
        if level not in self.levels:
            raise ValueError(f"{self.name}: level {level} is not one of {list(self.levels)}")
        return level

    def describe(self) -> dict[str, Any]:
        """Versions and settings worth recording next to each reconstruction."""
        return {"codec_id": self.codec_id, "codec_name": self.name}
