"""Checks that decide whether a file may become a source image, before any pixel is decoded.

The paper (section 3.1) removed images "that did not have three channels or were corrupted";
every refusal here carries a reason code and a readable message so that an ingest report can
say why each file was left out. The checks run cheapest first: byte size, content hash
(duplicates), format signature, then the pixel count read from the header, so that a
decompression bomb or a duplicate never reaches the decoder.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image, UnidentifiedImageError


class RejectReason(StrEnum):
    """Why a file was refused; the values are stable and stored in reports."""

    TOO_MANY_BYTES = "too_many_bytes"
    UNREADABLE = "unreadable"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    DECOMPRESSION_BOMB = "decompression_bomb"
    CORRUPT = "corrupt"
    DUPLICATE = "duplicate"
    NOT_THREE_CHANNELS = "not_three_channels"
    NOT_EIGHT_BIT = "not_eight_bit"
    TOO_SMALL = "too_small"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused file: nothing of it is stored; ``sha256`` is set once the bytes were hashed."""

    reason_code: RejectReason
    message: str
    sha256: str | None = None


class SourceFormat(StrEnum):
    """The containers accepted as originals: the paper's sources came as PNG and TIFF (RAISE)."""

    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"


_SIGNATURES: tuple[tuple[bytes, SourceFormat], ...] = (
    (b"\x89PNG\r\n\x1a\n", SourceFormat.PNG),
    (b"\xff\xd8\xff", SourceFormat.JPEG),
    (b"II*\x00", SourceFormat.TIFF),
    (b"MM\x00*", SourceFormat.TIFF),
    (b"II+\x00", SourceFormat.TIFF),
    (b"MM\x00+", SourceFormat.TIFF),
)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of the original bytes: the identity used to refuse duplicates."""
    return hashlib.sha256(data).hexdigest()


def read_source(source: bytes | Path, max_bytes: int) -> bytes | Rejection:
    """The file's bytes, refusing files over ``max_bytes`` before reading them into memory."""
    if isinstance(source, bytes):
        if len(source) > max_bytes:
            return _too_many_bytes(len(source), max_bytes)
        return source
    try:
        size = source.stat().st_size
        if size > max_bytes:
            return _too_many_bytes(size, max_bytes)
        data = source.read_bytes()
    except OSError as error:
        return Rejection(RejectReason.UNREADABLE, f"cannot read the file: {error.strerror}")
    if len(data) > max_bytes:
        return _too_many_bytes(len(data), max_bytes)
    return data


def _too_many_bytes(size: int, max_bytes: int) -> Rejection:
    return Rejection(
        RejectReason.TOO_MANY_BYTES, f"file has {size} bytes, more than the limit of {max_bytes}"
    )


def check_duplicate(digest: str, known_hashes: Collection[str]) -> Rejection | None:
    """Refuse content already ingested; the hash covers the original bytes, not the pixels."""
    if digest in known_hashes:
        return Rejection(
            RejectReason.DUPLICATE,
            f"same content (SHA-256 {digest[:12]}…) as an image already taken",
            digest,
        )
    return None


def sniff_format(data: bytes, digest: str | None = None) -> SourceFormat | Rejection:
    """PNG, JPEG or TIFF from the leading signature bytes, never from the file name.

    Files in another image format are told apart from files that are not images at all, so the
    report can suggest a conversion rather than call the file broken.
    """
    for signature, fmt in _SIGNATURES:
        if data.startswith(signature):
            return fmt
    other = _identify_other_format(data)
    if other is not None:
        return Rejection(
            RejectReason.UNSUPPORTED_FORMAT,
            f"{other} images are not accepted; convert to PNG, JPEG or TIFF first",
            digest,
        )
    return Rejection(RejectReason.NOT_AN_IMAGE, "not a PNG, JPEG or TIFF image", digest)


def _identify_other_format(data: bytes) -> str | None:
    """The name of a recognised but refused image format; reads the header only."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None


def check_pixels(width: int, height: int, max_pixels: int, digest: str) -> Rejection | None:
    """Refuse a decompression bomb from the header's dimensions, before any pixel is decoded."""
    if width * height > max_pixels:
        return Rejection(
            RejectReason.DECOMPRESSION_BOMB,
            f"header declares {width}×{height} = {width * height} pixels, "
            f"more than the limit of {max_pixels}",
            digest,
        )
    return None


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """What the decoder's header says about the pixels, read without decoding them."""

    width: int
    height: int
    bands: int
    band_format: str
    interpretation: str
    palette: bool = False
    pages: int = 1
    has_icc: bool = False
    orientation: int = 1


@dataclass(frozen=True, slots=True)
class Conversion:
    """The faithful steps that turn an accepted header into three 8-bit channels."""

    drop_alpha: bool = False
    to_eight_bit: bool = False
    grey_to_rgb: bool = False
    notes: tuple[str, ...] = ()


_RGB_INTERPRETATIONS = frozenset({"srgb", "rgb", "rgb16"})
_GREY_INTERPRETATIONS = frozenset({"b-w", "grey16"})
_CHANNEL_WORDS = {
    "RGBA": "three colour channels and an alpha channel",
    "grayscale": "one grayscale channel",
    "grayscale+alpha": "a grayscale and an alpha channel",
}


def plan_conversion(header: HeaderInfo, convert: bool, digest: str) -> Conversion | Rejection:
    """Accept three 8-bit channels; with ``convert`` also what converts without loss of meaning.

    By default only three 8-bit channels pass, as in the paper. With ``convert=True``, 16-bit
    samples are rounded to 8 bits, grayscale is repeated into three channels, palette images
    are expanded, and an alpha channel is dropped once the pixels show it is fully opaque (that
    last check needs the pixels and happens in preparation). CMYK and other colour spaces, and
    samples that are neither 8- nor 16-bit integers, are always refused: converting them would
    need colour management or a tone mapping the paper never applied.
    """
    if header.band_format not in ("uchar", "ushort"):
        return Rejection(
            RejectReason.NOT_EIGHT_BIT,
            f"samples are {header.band_format}, not 8- or 16-bit integers; no faithful conversion",
            digest,
        )
    is_rgb = header.interpretation in _RGB_INTERPRETATIONS and header.bands in (3, 4)
    is_grey = header.interpretation in _GREY_INTERPRETATIONS and header.bands in (1, 2)
    if not (is_rgb or is_grey):
        return Rejection(
            RejectReason.NOT_THREE_CHANNELS,
            f"{header.bands} channels in {header.interpretation} colour; no faithful "
            "conversion to RGB without colour management",
            digest,
        )
    has_alpha = header.bands in (2, 4)
    sixteen = header.band_format == "ushort"
    if is_rgb:
        kind = "RGBA" if has_alpha else "RGB"
    else:
        kind = "grayscale+alpha" if has_alpha else "grayscale"
    if not convert:
        if header.palette or has_alpha or is_grey:
            words = "palette (indexed) colour" if header.palette else _CHANNEL_WORDS[kind]
            return Rejection(
                RejectReason.NOT_THREE_CHANNELS,
                f"{words}, not three channels (conversion is off)",
                digest,
            )
        if sixteen:
            return Rejection(
                RejectReason.NOT_EIGHT_BIT, "16-bit RGB, not 8-bit (conversion is off)", digest
            )
        return Conversion()
    notes: list[str] = []
    if header.palette:
        notes.append("converted: palette → RGB")
    if sixteen:
        notes.append(f"converted: 16-bit {kind} → 8-bit")
    if has_alpha:
        opaque_to = "RGB" if is_rgb else "grayscale"
        notes.append(f"converted: opaque {kind} → {opaque_to} (alpha dropped)")
    if is_grey:
        notes.append("converted: grayscale → RGB")
    return Conversion(
        drop_alpha=has_alpha, to_eight_bit=sixteen, grey_to_rgb=is_grey, notes=tuple(notes)
    )
