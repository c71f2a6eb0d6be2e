"""Bare model time against the per-image pipeline, for neural codecs.

Bare: ``compress`` + ``decompress`` of an already padded tensor with a loaded model. Three
pipelines, all through :mod:`workers.codecs.pipeline`:

- worker: what the ``gpu`` queue's worker does per image (read PNG, encode, decode, PNG encode,
  SHA-1 blind name, atomic writes); it leaves PSNR/SSIM/MS-SSIM to the ``cpu`` queue;
- all-in: the same plus the metrics in place, as ``sclic compress`` does;
- stream: the worker's path for a message of four images going through the model one at a
  time (``SCLIC_CODEC_BATCH=4``, ``SCLIC_CODEC_MODEL_BATCH=1``), where each image's source is
  read, and its reconstruction stored, while the model codes its neighbour; per image.

Codecs: the shipped demo codec ("90") and C1 ("01", random weights saved in the zoo's format in
a temporary folder). Sizes 768×512 and 2304×1536 (the paper's largest side, section 3.1); CPU,
and CUDA when present. The three runs alternate so that load from other processes hits each
alike. To measure as the codec worker runs, give it the worker's allocator settings
(``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736``, see ``docker-compose.yml``); it
prints whether they are set.
Throughput is images per second all-in, one image per call and four to a ``run_many`` call.
Prints medians; asserts nothing.

    python benchmarks/codec_bench.py [--repeats 3] [--sizes 768x512 2304x1536] [--devices cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 4
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.imaging import png  # noqa: E402  (after the path fix-up above)


def source_image(width: int, height: int) -> np.ndarray:
    """A photograph (scikit-image's coffee) resized to ``width`` × ``height``."""
    from skimage import data

    image = Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(image)


def random_c1_weights(folder: Path) -> Path:
    """A random ``bmshj2018-hyperprior`` quality-3 checkpoint named as the zoo names files."""
    import torch
    from compressai.models import ScaleHyperprior

    from workers.codecs.checkpoints import write_checkpoint
    from workers.codecs.zoo import channels

    torch.manual_seed(0)
    write_checkpoint(ScaleHyperprior(*channels(3)).state_dict(), folder, "bmshj2018-hyperprior-3")
    return folder


def bench(
    codec_id: str,
    setting: str,
    src: Path,
    out: Path,
    device: str,
    weights: Path | None,
    repeats: int,
) -> dict[str, float]:
    import torch

    from workers.codecs.neural import HyperpriorCodec, pad_to_multiple, rgb_to_tensor
    from workers.codecs.pipeline import read_png, run_many, run_one
    from workers.codecs.registry import build_codec, get_entry
    from workers.codecs.results import CodedImage

    codec = build_codec(codec_id, weights, device)
    assert isinstance(codec, HyperpriorCodec)
    level = get_entry(codec_id).setting(setting).level
    assert level is not None
    model = codec.loaded(level).model
    x = pad_to_multiple(rgb_to_tensor(read_png(src), codec.device))

    def bare() -> None:
        with torch.inference_mode():
            enc = model.compress(x)
            model.decompress(enc["strings"], enc["shape"])
        if device == "cuda":
            torch.cuda.synchronize()

    rows: list[CodedImage] = []

    def pipeline() -> None:
        rows.append(run_one(codec_id, setting, src, out, device, weights))

    def worker() -> None:
        run_one(codec_id, setting, src, out, device, weights, measure=False)

    bare()
    pipeline()
    worker()
    rows.clear()
    bare_times: list[float] = []
    pipe_times: list[float] = []
    worker_times: list[float] = []
    for _ in range(repeats):
        for fn, times in ((bare, bare_times), (worker, worker_times), (pipeline, pipe_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    # A batch of four different images of this size through ``run_many`` (what a worker does
    # with SCLIC_CODEC_BATCH=4), per image.
    batch = [src.with_name(f"{src.stem}-{i}.png") for i in range(BATCH)]
    pixels = read_png(src)
    for i, path in enumerate(batch):
        path.write_bytes(png.encode(np.ascontiguousarray(np.roll(pixels, 16 * i, axis=1))))
    run_many(codec_id, setting, batch, out, device, weights)
    batch_times: list[float] = []
    stream_times: list[float] = []

    def stream() -> None:
        run_many(codec_id, setting, batch, out, device, weights, measure=False, model_batch=1)

    def one_pass() -> None:
        run_many(codec_id, setting, batch, out, device, weights)

    for _ in range(repeats):
        for fn, times in ((stream, stream_times), (one_pass, batch_times)):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) / BATCH)
    bare_s, pipe_s = statistics.median(bare_times), statistics.median(pipe_times)
    parts = {
        key: statistics.median(getattr(r.timings, key) for r in rows)
        for key in ("read_s", "encode_s", "decode_s", "store_s")
    }
    parts["metrics_s"] = statistics.median(r.scores.metrics_s for r in rows if r.scores)
    return {
        "bare_s": bare_s,
        "pipeline_s": pipe_s,
        "worker_s": statistics.median(worker_times),
        **parts,
        "bpp": rows[-1].bpp,
        "batch_s": statistics.median(batch_times),
        "stream_s": statistics.median(stream_times),
    }


def main(argv: Sequence[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description="codec pipeline overhead")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=["768x512", "2304x1536"])
    parser.add_argument("--codecs", nargs="+", default=["90", "01"])
    parser.add_argument("--setting", default="low")
    parser.add_argument(
        "--devices",
        nargs="+",
        choices=["cpu", "cuda"],
        help="default: the CPU, and CUDA when torch sees a GPU (--devices cuda on a GPU machine "
        "whose time is short)",
    )
    args = parser.parse_args(argv)
    kept = os.environ.get("MALLOC_MMAP_MAX_") == "0" and "MALLOC_TRIM_THRESHOLD_" in os.environ
    print(f"allocator keeps freed memory (the codec worker's MALLOC_ settings): {kept}")
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        parser.error("--devices cuda: torch sees no CUDA device")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; devices {devices}")
    header = (
        f"{'codec':5} {'size':>10} {'device':6} {'bare s':>8} {'worker':>7} {'ratio':>6} "
        f"{'stream':>7} {'ratio':>6} {'all-in':>7} {'ratio':>6} "
        f"{'read s':>7} {'enc s':>7} {'dec s':>7} {'metr s':>7} {'store s':>7} {'bpp':>6} "
        f"{'img/s':>6} {'img/s b4':>8}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="sclic-bench-") as tmp:
        root = Path(tmp)
        weights = random_c1_weights(root)
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            src = root / f"src-{size}.png"
            src.write_bytes(png.encode(source_image(width, height)))  # as prepare writes it
            for codec_id in args.codecs:
                for device in devices:
                    r = bench(
                        codec_id,
                        args.setting,
                        src,
                        root / "out",
                        device,
                        weights if codec_id == "01" else None,
                        args.repeats,
                    )
                    print(
                        f"{codec_id:5} {size:>10} {device:6} {r['bare_s']:8.3f} "
                        f"{r['worker_s']:7.3f} {r['worker_s'] / r['bare_s']:6.3f} "
                        f"{r['stream_s']:7.3f} {r['stream_s'] / r['bare_s']:6.3f} "
                        f"{r['pipeline_s']:7.3f} {r['pipeline_s'] / r['bare_s']:6.3f} "
                        f"{r['read_s']:7.3f} {r['encode_s']:7.3f} {r['decode_s']:7.3f} "
                        f"{r['metrics_s']:7.3f} {r['store_s']:7.3f} {r['bpp']:6.3f} "
                        f"{1 / r['pipeline_s']:6.2f} {1 / r['batch_s']:8.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
