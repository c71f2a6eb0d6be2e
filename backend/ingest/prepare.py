"""Prepared copies of source images: three 8-bit channels, PNG, codec-ready sizes.

Paper, section 3.1: sources were centre-cropped to multiples of 16 pixels, downscaled to at
most 2304 pixels per side, RAISE images first resized to 40 %, and all stored as PNG; images
without three channels or that were corrupted were removed. :func:`prepare_image` does the same
for one file and returns either the prepared PNG or a :class:`Rejection` with its reason, so a
file is never half stored.

Decoding and resampling use libvips (Lanczos-3): on 4000×3000 JPEGs and TIFFs it decodes and
resamples in about half the CPU time Pillow needs with the same filter (see
``benchmarks/prepare_bench.py``), streaming the file instead of holding it decoded. The
prepared PNG is a plain one (:mod:`backend.imaging.png`). Pixel values are kept as
stored: embedded colour profiles and EXIF orientation are not applied, as the paper's
ImageMagick conversion did not apply them, and the codecs see the very pixels the labelers see.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyvips

from backend.imaging.png import encode as encode_png
from backend.ingest.geometry import Geometry, plan_geometry
from backend.ingest.validate import (
    Conversion,
    HeaderInfo,
    Rejection,
    RejectReason,
    SourceFormat,
    check_duplicate,
    check_pixels,
    plan_conversion,
    read_source,
    sha256_hex,
    sniff_format,
)

if TYPE_CHECKING:
    from backend.core.config import Settings

DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024

# libjpeg reports damaged entropy-coded data only as a warning; PNG and TIFF decoders report
# real damage as errors, while TIFF warnings are routine (unknown private tags of cameras).
_FAIL_ON: dict[SourceFormat, str] = {
    SourceFormat.PNG: "error",
    SourceFormat.JPEG: "warning",
    SourceFormat.TIFF: "error",
}


@dataclass(frozen=True, slots=True)
class PrepareOutcome:
    """An accepted image: the prepared PNG, its size, the original's hash and what was done."""

    png: bytes = field(repr=False)
    width: int
    height: int
    sha256: str
    source_format: SourceFormat
    source_width: int
    source_height: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PrepareOptions:
    """Preparation parameters for one source dataset (RAISE: ``scale=0.4``)."""

    scale: float | None = None
    multiple: int = 16
    max_side: int = 2304
    convert: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_settings(
        cls, settings: Settings, *, scale: float | None = None, convert: bool = False
    ) -> PrepareOptions:
        """Options from the platform settings (``prepare_multiple``, ``prepare_max_side``...)."""
        return cls(
            scale=scale,
            multiple=settings.prepare_multiple,
            max_side=settings.prepare_max_side,
            convert=convert,
            max_pixels=settings.max_image_pixels,
            max_bytes=settings.max_upload_bytes,
        )


@dataclass(slots=True)
class _Pending:
    """A source that passed the header checks and awaits decoding."""

    image: pyvips.Image
    data: bytes
    fmt: SourceFormat
    digest: str
    header: HeaderInfo
    conversion: Conversion
    geometry: Geometry


def prepare_image(
    data: bytes | Path,
    *,
    scale: float | None = None,
    multiple: int = 16,
    max_side: int = 2304,
    convert: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    known_hashes: Collection[str] = frozenset(),
) -> PrepareOutcome | Rejection:
    """Validate one file and prepare its PNG copy, deterministically.

    Steps in the paper's order: optional ``scale``, centre crop to multiples of ``multiple``,
    downscale to at most ``max_side`` (both sides staying multiples; see
    :mod:`backend.ingest.geometry`). Refusals, cheapest check first: bytes over ``max_bytes``,
    a SHA-256 in ``known_hashes``, a format other than PNG/JPEG/TIFF, a header declaring more
    than ``max_pixels``, channels or bit depth other than three 8-bit channels (unless
    ``convert`` applies a faithful conversion), sides shorter than ``multiple``, and any
    decoding error, truncation included.
    """
    raw = read_source(data, max_bytes)
    if isinstance(raw, Rejection):
        return raw
    digest = sha256_hex(raw)
    pending = _check(raw, digest, scale, multiple, max_side, convert, max_pixels, known_hashes)
    if isinstance(pending, Rejection):
        return pending
    try:
        return _render(pending)
    except pyvips.Error as error:
        return Rejection(RejectReason.CORRUPT, _decoder_message(error), digest)


def prepare_with_options(
    data: bytes | Path, options: PrepareOptions, known_hashes: Collection[str] = frozenset()
) -> PrepareOutcome | Rejection:
    """:func:`prepare_image` with every limit and step taken from ``options``."""
    return prepare_image(
        data,
        scale=options.scale,
        multiple=options.multiple,
        max_side=options.max_side,
        convert=options.convert,
        max_pixels=options.max_pixels,
        max_bytes=options.max_bytes,
        known_hashes=known_hashes,
    )


def prepare_many(
    sources: Iterable[Path],
    options: PrepareOptions,
    known_hashes: Collection[str] = frozenset(),
) -> Iterator[tuple[Path, PrepareOutcome | Rejection]]:
    """Prepare files one at a time; a file repeating an earlier accepted one is a duplicate.

    Hashes of accepted files join ``known_hashes`` for the rest of the run (the caller's
    collection is not modified), so a folder holding the same photograph twice keeps one copy.
    """
    seen = set(known_hashes)
    for path in sources:
        outcome = prepare_with_options(path, options, seen)
        if isinstance(outcome, PrepareOutcome):
            seen.add(outcome.sha256)
        yield path, outcome


def _check(
    raw: bytes,
    digest: str,
    scale: float | None,
    multiple: int,
    max_side: int,
    convert: bool,
    max_pixels: int,
    known_hashes: Collection[str],
) -> _Pending | Rejection:
    """Every refusal that the header alone can decide, in order of cost."""
    duplicate = check_duplicate(digest, known_hashes)
    if duplicate is not None:
        return duplicate
    fmt = sniff_format(raw, digest)
    if isinstance(fmt, Rejection):
        return fmt
    try:
        image = _load(raw, fmt, access="sequential")
        header = _header(image)
    except pyvips.Error as error:
        return Rejection(RejectReason.CORRUPT, _decoder_message(error), digest)
    bomb = check_pixels(header.width, header.height, max_pixels, digest)
    if bomb is not None:
        return bomb
    conversion = plan_conversion(header, convert, digest)
    if isinstance(conversion, Rejection):
        return conversion
    geometry = plan_geometry(
        header.width, header.height, scale=scale, multiple=multiple, max_side=max_side
    )
    if geometry is None:
        return Rejection(
            RejectReason.TOO_SMALL,
            f"{header.width}×{header.height} leaves no {multiple}×{multiple} block"
            + (f" after scaling to {scale:.0%}" if scale is not None else ""),
            digest,
        )
    return _Pending(image, raw, fmt, digest, header, conversion, geometry)


def _load(data: bytes, fmt: SourceFormat, access: str) -> pyvips.Image:
    """Open with the one loader the signature names (never a guessing loader); header only."""
    loader = {
        SourceFormat.PNG: pyvips.Image.pngload_buffer,
        SourceFormat.JPEG: pyvips.Image.jpegload_buffer,
        SourceFormat.TIFF: pyvips.Image.tiffload_buffer,
    }[fmt]
    return loader(data, access=access, fail_on=_FAIL_ON[fmt])


def _header(image: pyvips.Image) -> HeaderInfo:
    fields = set(image.get_fields())

    def integer(name: str, default: int) -> int:
        return int(image.get(name)) if name in fields else default

    return HeaderInfo(
        width=image.width,
        height=image.height,
        bands=image.bands,
        band_format=str(image.format),
        interpretation=str(image.interpretation),
        palette=bool(integer("palette", 0)),
        pages=integer("n-pages", 1),
        has_icc="icc-profile-data" in fields,
        orientation=integer("orientation", 1),
    )


def _render(pending: _Pending) -> PrepareOutcome | Rejection:
    """Decode, convert, resample and encode; raises ``pyvips.Error`` on damaged data."""
    image = pending.image
    conversion = pending.conversion
    if conversion.drop_alpha:
        # Opacity needs the pixels twice (check, then use): reopen with random access.
        image = _load(pending.data, pending.fmt, access="random")
        alpha = image.extract_band(image.bands - 1)
        lowest = int(alpha.min())
        full = 65535 if image.format == "ushort" else 255
        if lowest < full:
            return Rejection(
                RejectReason.NOT_THREE_CHANNELS,
                f"alpha channel is not fully opaque (lowest alpha {lowest} of {full}); "
                "dropping it would change the image",
                pending.digest,
            )
        image = image.extract_band(0, n=image.bands - 1)
    if conversion.to_eight_bit:
        image = (image / 257).rint().cast("uchar")
    if conversion.grey_to_rgb:
        image = image.bandjoin([image, image])
    image = image.copy(interpretation="srgb")
    image, notes = _resample(image, pending.geometry)
    png = encode_png(np.asarray(image.numpy()))
    out_w, out_h = pending.geometry.output
    if (image.width, image.height) != (out_w, out_h):
        raise RuntimeError(f"resampled to {image.width}×{image.height}, expected {out_w}×{out_h}")
    return PrepareOutcome(
        png=png,
        width=out_w,
        height=out_h,
        sha256=pending.digest,
        source_format=pending.fmt,
        source_width=pending.header.width,
        source_height=pending.header.height,
        notes=(*conversion.notes, *notes, *_metadata_notes(pending.header)),
    )


def _resample(image: pyvips.Image, geometry: Geometry) -> tuple[pyvips.Image, list[str]]:
    """Scale, crop and downscale with Lanczos-3, each step only when it changes the size."""
    notes: list[str] = []
    (src_w, src_h), (sw, sh) = geometry.source, geometry.scaled
    if (sw, sh) != (src_w, src_h):
        image = image.resize(sw / src_w, vscale=sh / src_h, kernel="lanczos3")
        notes.append(f"scaled {src_w}×{src_h} → {sw}×{sh}")
    left, top, cw, ch = geometry.crop
    if (cw, ch) != (sw, sh):
        image = image.crop(left, top, cw, ch)
        notes.append(f"centre-cropped {sw}×{sh} → {cw}×{ch}")
    out_w, out_h = geometry.output
    if geometry.resized:
        image = image.resize(out_w / cw, vscale=out_h / ch, kernel="lanczos3")
        notes.append(f"downscaled {cw}×{ch} → {out_w}×{out_h}")
    return image, notes


def _metadata_notes(header: HeaderInfo) -> list[str]:
    notes: list[str] = []
    if header.pages > 1:
        notes.append(f"first of {header.pages} pages used")
    if header.has_icc:
        notes.append("embedded ICC profile not applied; pixel values kept as stored")
    if header.orientation != 1:
        notes.append(f"EXIF orientation {header.orientation} not applied")
    return notes


def _decoder_message(error: pyvips.Error) -> str:
    """The decoder's own words, without libvips' wrapper lines about the save call."""
    detail = [
        line.strip()
        for line in str(error.detail or error.message).splitlines()
        if line.strip() and "unable to write" not in line and "unable to call" not in line
    ]
    return "corrupt or truncated: " + ("; ".join(detail) if detail else str(error.message))
