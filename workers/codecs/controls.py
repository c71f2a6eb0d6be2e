"""Conventional control codecs through Pillow: baseline JPEG and lossy WebP.

They are not among the paper's C1–C6; they give each neural reconstruction a conventional
reference at the same target rates (0.25 and 0.75 bpp, paper, section 3.1). Levels are Pillow
qualities 1–100; a setting's target bpp is reached by bisection over quality (see
:func:`workers.codecs.rate.rate_match`). The payload is the plain ``.jpg`` / ``.webp`` file.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, features

from workers.codecs.base import Availability, Codec, EncodeResult, Header, check_rgb, pack, unpack
from workers.codecs.errors import BitstreamError

QUALITIES: tuple[int, ...] = tuple(range(1, 101))


class PillowCodec(Codec):
    """JPEG (4:2:0, libjpeg defaults) or WebP (method 4) at Pillow quality 1–100."""

    def __init__(self, codec_id: str, name: str, fmt: str) -> None:
        if fmt not in ("JPEG", "WEBP"):
            raise ValueError(f"format must be 'JPEG' or 'WEBP', got {fmt!r}")
        self.codec_id = codec_id
        self.name = name
        self.fmt = fmt
        self.levels = QUALITIES

    def _save_options(self, quality: int) -> dict[str, Any]:
        if self.fmt == "JPEG":
            return {"quality": quality, "subsampling": "4:2:0", "optimize": False}
        return {"quality": quality, "method": 4, "lossless": False, "exact": False}

    def available(self) -> Availability:
        if self.fmt == "WEBP" and not features.check("webp"):
            return Availability.no("Pillow built with WebP support (libwebp)")
        return Availability.yes()

    def encode(self, rgb: np.ndarray, level: int) -> EncodeResult:
        rgb = check_rgb(rgb, self.min_side, self.name)
        quality = self.check_level(level)
        height, width = rgb.shape[:2]
        buffer = io.BytesIO()
        options = self._save_options(quality)
        Image.fromarray(rgb, "RGB").save(buffer, format=self.fmt, **options)
        bitstream = pack(Header(self.codec_id, quality, height, width), buffer.getvalue())
        return EncodeResult(bitstream, quality, width, height, {"format": self.fmt, **options})

    def decode(self, bitstream: bytes) -> np.ndarray:
        header, payload = unpack(bitstream, self.codec_id)
        try:
            with Image.open(io.BytesIO(payload)) as image:
                rgb = np.asarray(image.convert("RGB"))
        except OSError as exc:
            raise BitstreamError(f"{self.name}: payload cannot be decoded ({exc})") from exc
        if rgb.shape[:2] != (header.height, header.width):
            raise BitstreamError(
                f"{self.name}: decoded {rgb.shape[1]}×{rgb.shape[0]}, header says "
                f"{header.width}×{header.height}"
            )
        return np.ascontiguousarray(rgb)

    def describe(self) -> dict[str, Any]:
        import PIL

        lib = "libjpeg_turbo" if self.fmt == "JPEG" else "webp"
        return {
            **super().describe(),
            "device": "cpu",
            "pillow": PIL.__version__,
            lib: features.version(lib) or "unknown",
        }
