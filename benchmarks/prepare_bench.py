"""Throughput of source preparation on camera-sized files (paper, section 3.1).

Prepares 4000×3000 JPEGs and TIFFs (scikit-image photographs upscaled, with sensor-like noise
so that the files compress like real photographs) to 2304×1728 PNGs, and, for comparison, runs
the same crop, Lanczos downscale and PNG encoding (at zlib's fastest level) with Pillow. Also
times the RAISE path (TIFF scaled to 40 %). Prints images per second and CPU time per image
(all threads; the figure to compare on a shared machine); asserts nothing.

Run: ``.venv/bin/python benchmarks/prepare_bench.py [--count N]``
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as samples

from backend.ingest.geometry import plan_geometry
from backend.ingest.prepare import PrepareOutcome, prepare_image

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
SIZE = (4000, 3000)


def camera_frame(name: str, seed: int) -> np.ndarray:
    """A photograph upscaled to 4000×3000 with Gaussian noise (sigma 4)."""
    photo = Image.fromarray(getattr(samples, name)()).convert("RGB")
    frame = np.asarray(photo.resize(SIZE, Image.Resampling.BICUBIC), dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0.0, 4.0, frame.shape).astype(np.float32)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def write_inputs(folder: Path, count: int) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {"jpeg": [], "tiff": []}
    for index in range(count):
        image = Image.fromarray(camera_frame(PHOTOGRAPHS[index % len(PHOTOGRAPHS)], index))
        jpeg, tiff = folder / f"{index}.jpg", folder / f"{index}.tif"
        image.save(jpeg, "JPEG", quality=95)
        image.save(tiff, "TIFF")
        files["jpeg"].append(jpeg)
        files["tiff"].append(tiff)
    return files


def prepare_with_pillow(path: Path, scale: float | None = None) -> bytes:
    """The same steps with Pillow: the alternative measured against libvips."""
    with Image.open(path) as opened:
        image: Image.Image = opened
        image.load()
        geometry = plan_geometry(*image.size, scale=scale)
        assert geometry is not None
        if geometry.scaled != geometry.source:
            image = image.resize(geometry.scaled, Image.Resampling.LANCZOS)
        left, top, width, height = geometry.crop
        image = image.crop((left, top, left + width, top + height))
        if geometry.resized:
            image = image.resize(geometry.output, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()


def prepare_with_sclic(path: Path, scale: float | None = None) -> bytes:
    outcome = prepare_image(path, scale=scale)
    assert isinstance(outcome, PrepareOutcome), outcome
    return outcome.png


def measure(label: str, paths: list[Path], run: Callable[[Path], bytes]) -> None:
    run(paths[0])  # warm up decoders and caches
    sizes = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for path in paths:
        sizes.append(len(run(path)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        f"{label:<34} {len(paths) / elapsed:6.2f} images/s "
        f"({elapsed / len(paths) * 1000:5.0f} ms wall, {cpu / len(paths) * 1000:5.0f} ms CPU "
        f"each, PNG {np.mean(sizes) / 1e6:4.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6, help="files per format")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_inputs(Path(tmp), args.count)
        print(f"{args.count} files per format, {SIZE[0]}×{SIZE[1]} → 2304×1728 PNG")
        for fmt in ("jpeg", "tiff"):
            measure(f"libvips (prepare_image), {fmt}", files[fmt], prepare_with_sclic)
            measure(f"Pillow reference, {fmt}", files[fmt], prepare_with_pillow)
        measure(
            "libvips, tiff at 40 % (RAISE)",
            files["tiff"],
            lambda path: prepare_with_sclic(path, 0.4),
        )
        measure(
            "Pillow, tiff at 40 % (RAISE)",
            files["tiff"],
            lambda path: prepare_with_pillow(path, 0.4),
        )


if __name__ == "__main__":
    main()
