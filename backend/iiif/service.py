"""``TileService``: info.json documents and rendered images for resolved identifiers.

Three steps answer an image request, cheapest first:

1. ``cached``: for parameters already in normalised form (what tile viewers send, and what
   ``pregenerate`` wrote), one file read. No parsing, no image header, no thread hop; this is
   the warm path and it runs on the event loop.
2. ``render`` parses and normalises the parameters and reads the normalised file if present.
3. Otherwise it cuts the image from the decoded source (see ``sources``), encodes it, and
   writes it to the disk cache atomically.

Content under an identifier is treated as immutable (identifiers are blind content names);
``evict`` drops everything held for one if that ever changes.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyvips

from backend.iiif import render as renderer
from backend.iiif.cache import DiskCache, check_identifier
from backend.iiif.colormap import COLORMAP_NAME, DEFAULT_DIFF_GAIN, DiffScale
from backend.iiif.models import IIIFError, RenderedImage, ResolvedImage
from backend.iiif.params import (
    FORMATS,
    ImageRequest,
    Limits,
    fast_cache_name,
    parse_request,
    scale_factors,
)
from backend.iiif.sources import Source, SourceCache, difference_map, load_pixels, open_header

log = logging.getLogger(__name__)

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
PROFILE = "level2"
DIFF_SETTINGS_NAME = "diff-settings.json"


class TileService:
    """Renders and caches IIIF images for identifiers the application has resolved.

    ``max_upscale`` bounds ``^`` requests to that multiple of the image size (announced as
    ``maxWidth``/``maxHeight``); 0 switches upscaling off, and ``^`` requests that need it get
    501. ``diff_gain`` multiplies differences before colouring (see ``DiffScale``); changing it
    clears the cached difference images on the next start.
    """

    def __init__(
        self,
        cache_dir: Path,
        tile_size: int = 256,
        *,
        source_bytes: int = 192 * 2**20,
        jpeg_quality: int = 90,
        diff_gain: float = DEFAULT_DIFF_GAIN,
        max_upscale: float = 2.0,
        preferred_formats: tuple[str, ...] = (),
    ) -> None:
        if tile_size < 16:
            raise ValueError("tile_size must be at least 16")
        if any(f not in FORMATS for f in preferred_formats):
            raise ValueError("preferred_formats must be among " + ", ".join(FORMATS))
        self.tile_size = tile_size
        self.jpeg_quality = jpeg_quality
        self.max_upscale = max_upscale
        self.preferred_formats = preferred_formats
        self.diff_scale = DiffScale.for_gain(diff_gain)
        self.disk = DiskCache(Path(cache_dir))
        self.sources = SourceCache(source_bytes)
        self._lock = threading.Lock()
        self._prefetcher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="iiif-prefetch")
        self._prefetching: set[str] = set()
        self._check_diff_settings()

    # -- warm path ---------------------------------------------------------------------------

    def cached(
        self, identifier: str, region: str, size: str, rotation: str, quality: str, fmt: str
    ) -> RenderedImage | None:
        """A previously rendered response for these raw parameters, or ``None``.

        Call only after access has been checked for ``identifier``.
        """
        name = fast_cache_name(region, size, rotation, quality, fmt)
        if name is None:
            return None
        found = self.disk.read(check_identifier(identifier), name)
        return None if found is None else RenderedImage(found[0], FORMATS[fmt], found[1])

    def cached_bytes(
        self, identifier: str, region: str, size: str, rotation: str, quality: str, fmt: str
    ) -> bytes | None:
        hit = self.cached(identifier, region, size, rotation, quality, fmt)
        return None if hit is None else hit.data

    # -- rendering ---------------------------------------------------------------------------

    def render(
        self,
        resolved: ResolvedImage,
        region: str,
        size: str,
        rotation: str,
        quality: str,
        fmt: str,
    ) -> RenderedImage:
        """The image for these raw parameters; raises ``IIIFError`` (400, 404, 501).

        Blocking (file reads, libvips): call it from a worker thread.
        """
        identifier = check_identifier(resolved.identifier)
        request = self.parse(resolved, region, size, rotation, quality, fmt)
        found = self.disk.read(identifier, request.cache_name)
        if found is None:
            # Two requests for the same missing tile may both render it; the second rename
            # replaces the first's file with the same bytes.
            data = renderer.render(self.source(resolved), request, self.jpeg_quality)
            found = (data, self.disk.write(identifier, request.cache_name, data))
        return RenderedImage(found[0], request.media_type, found[1])

    def parse(
        self,
        resolved: ResolvedImage,
        region: str,
        size: str,
        rotation: str,
        quality: str,
        fmt: str,
    ) -> ImageRequest:
        width, height, _ = self.dimensions(resolved)
        return parse_request(
            region, size, rotation, quality, fmt, width, height, self.limits(width, height)
        )

    def limits(self, width: int, height: int) -> Limits:
        if self.max_upscale <= 0:
            return Limits(allow_upscaling=False)
        factor = max(1.0, self.max_upscale)
        return Limits(math.floor(width * factor), math.floor(height * factor), True)

    # -- image information -------------------------------------------------------------------

    def dimensions(self, resolved: ResolvedImage) -> tuple[int, int, int]:
        """Width, height and band count, from file headers (no pixels decoded).

        Not cached here: a warm tile never needs them, only info.json and renders do, and
        libvips keeps recently opened files in its own operation cache.
        """
        header = open_header(resolved.path)
        if resolved.kind == "diff":
            other = open_header(self._other_path(resolved))
            return (min(header.width, other.width), min(header.height, other.height), 3)
        return (header.width, header.height, 3 if header.bands >= 3 else 1)

    def info_json(self, resolved: ResolvedImage, base_url: str) -> dict[str, Any]:
        """The IIIF 3.0 image information document; ``base_url`` becomes its ``id``."""
        width, height, bands = self.dimensions(resolved)
        factors = scale_factors(width, height, self.tile_size)
        limits = self.limits(width, height)
        info: dict[str, Any] = {
            "@context": CONTEXT,
            "id": base_url.rstrip("/"),
            "type": "ImageService3",
            "protocol": PROTOCOL,
            "profile": PROFILE,
            "width": width,
            "height": height,
        }
        if limits.allow_upscaling:
            info["maxWidth"] = limits.max_width
            info["maxHeight"] = limits.max_height
        info["sizes"] = [
            {"width": math.ceil(width / f), "height": math.ceil(height / f)}
            for f in reversed(factors)
        ]
        info["tiles"] = [
            {"width": self.tile_size, "height": self.tile_size, "scaleFactors": factors}
        ]
        if self.preferred_formats:
            info["preferredFormats"] = list(self.preferred_formats)
        info["extraFormats"] = ["webp"]
        info["extraQualities"] = ["color", "gray", "bitonal"] if bands == 3 else ["gray", "bitonal"]
        features = ["mirroring", "rotationArbitrary"]
        if limits.allow_upscaling:
            features.append("sizeUpscaling")
        info["extraFeatures"] = features
        return info

    def prefetch(self, resolved: ResolvedImage) -> bool:
        """Start decoding ``resolved`` in the background unless it has been rendered before.

        Called when a viewer fetches info.json: its tile requests follow within milliseconds,
        and decoding the original and the reconstruction in parallel, overlapped with those
        round trips, is most of what a cold first view costs. An existing cache folder means
        tiles were rendered (or pregenerated) earlier, so nothing is started. Returns whether
        it started.
        """
        identifier = check_identifier(resolved.identifier)
        with self._lock:
            if identifier in self._prefetching or self.disk.folder(identifier).is_dir():
                return False
            self._prefetching.add(identifier)
        self._prefetcher.submit(self._prefetch, resolved)
        return True

    def _prefetch(self, resolved: ResolvedImage) -> None:
        try:
            self.source(resolved)
        except Exception:  # a later request reports the error to its client
            log.debug("prefetch of %s failed", resolved.identifier, exc_info=True)
        finally:
            with self._lock:
                self._prefetching.discard(resolved.identifier)

    # -- sources -----------------------------------------------------------------------------

    def source(self, resolved: ResolvedImage) -> Source:
        """Decoded pixels for ``resolved``; a difference map is computed from its decoded pair."""
        if resolved.kind != "diff":
            return self._file_source(resolved.path)
        identifier = resolved.identifier
        return self.sources.get("diff:" + identifier, lambda: self._load_diff(resolved))

    def _file_source(self, path: Path) -> Source:
        try:
            stat = path.stat()
        except OSError as exc:
            raise IIIFError(404, "image not available") from exc
        key = f"file:{path}:{stat.st_mtime_ns}:{stat.st_size}"
        return self.sources.get(key, lambda: load_pixels(path))

    def _load_diff(self, resolved: ResolvedImage) -> pyvips.Image:
        # Computed from the decoded pair each time it is needed (not kept as a file): that is a
        # fraction of decoding the pair, which a first view of the difference needs anyway.
        original = self._file_source(resolved.path).image
        reconstruction = self._file_source(self._other_path(resolved)).image
        return difference_map(original, reconstruction, self.diff_scale.gain)

    @staticmethod
    def _other_path(resolved: ResolvedImage) -> Path:
        if resolved.other_path is None:
            raise IIIFError(404, "image not available")
        return resolved.other_path

    def _check_diff_settings(self) -> None:
        """Cached difference images depend on gain and colour map; drop them if those changed."""
        wanted = {"gain": self.diff_scale.gain, "colormap": COLORMAP_NAME, "reduction": "max"}
        settings = self.disk.root / DIFF_SETTINGS_NAME
        try:
            current = json.loads(settings.read_text())
        except (OSError, ValueError):
            current = None
        if current == wanted:
            return
        if current is not None:
            log.info("difference-map settings changed; clearing cached difference images")
        for folder in self.disk.root.glob("*/*-diff"):
            self.disk.remove(folder.name)
        settings.write_text(json.dumps(wanted))

    # -- bulk work ---------------------------------------------------------------------------

    def tile_requests(self, resolved: ResolvedImage) -> list[ImageRequest]:
        """Every tile a viewer can ask for, and the listed sizes below full resolution, in
        normalised form (jpg, default quality)."""
        width, height, _ = self.dimensions(resolved)
        limits = self.limits(width, height)
        seen: dict[str, ImageRequest] = {}
        side = self.tile_size
        for factor in scale_factors(width, height, side):
            step = side * factor
            wanted = []
            if factor > 1:
                wanted.append(("full", f"{math.ceil(width / factor)},{math.ceil(height / factor)}"))
            for y in range(0, height, step):
                for x in range(0, width, step):
                    w, h = min(step, width - x), min(step, height - y)
                    wanted.append(
                        (f"{x},{y},{w},{h}", f"{math.ceil(w / factor)},{math.ceil(h / factor)}")
                    )
            for region, size in wanted:
                request = parse_request(region, size, "0", "default", "jpg", width, height, limits)
                seen.setdefault(request.cache_name, request)
        return list(seen.values())

    def pregenerate(self, resolved: ResolvedImage, *, threads: int = 2) -> int:
        """Render the whole tile pyramid into the disk cache; returns how many files it wrote.

        Meant for workers right after a reconstruction (or original) is stored, so the first
        viewer finds every tile ready. Safe to run concurrently with the web server and with
        itself: files are replaced atomically and existing ones are kept. Decoded pixels stay
        in the byte-bounded source cache, so a difference map pregenerated right after its
        original and reconstruction reuses them.
        """
        identifier = check_identifier(resolved.identifier)
        missing = [
            request
            for request in self.tile_requests(resolved)
            if not self.disk.exists(identifier, request.cache_name)
        ]
        if not missing:
            return 0
        source = self.source(resolved)

        def write(request: ImageRequest) -> None:
            data = renderer.render(source, request, self.jpeg_quality)
            self.disk.write(identifier, request.cache_name, data)

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            list(pool.map(write, missing))
        return len(missing)

    def close(self) -> None:
        """Stop the background decoder threads (for application shutdown)."""
        self._prefetcher.shutdown(wait=False, cancel_futures=True)

    def evict(self, identifier: str) -> None:
        """Forget everything cached for ``identifier``: decoded pixels and files."""
        check_identifier(identifier)
        self.sources.discard(lambda key: key == "diff:" + identifier)
        self.disk.remove(identifier)
