"""Train the small demo hyperprior (codec "90") on scikit-image photographs.

The model is CompressAI's ``ScaleHyperprior`` (Ballé et al., ICLR 2018, the architecture of the
paper's C1/C2) with few channels, trained on random crops with random horizontal flips of the
colour photographs bundled with scikit-image, minimising ``λ · 255² · MSE + bpp``. A high-rate
model is trained first; the low-rate model is fine-tuned from it with a smaller λ, so the two
land near the paper's 0.25 and 0.75 bpp (section 3.1) at a small cost.

Output: ``sclic-demo-hyperprior-<level>-<sha8>.pth.tar`` (level 1 = low, 2 = high), plain state
dicts named like the CompressAI zoo's files, saved before the entropy-coder tables are built
(loading calls ``update(force=True)``), which keeps each file small.

Run (seeded, CPU, a few minutes on two cores)::

    python -m workers.training.train_demo_codec --out workers/weights
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from compressai.models import CompressionModel, ScaleHyperprior

from workers.codecs.checkpoints import write_checkpoint
from workers.codecs.registry import DEMO_STEM, DEMO_WEIGHTS_DIR

PHOTOS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field")


def load_photos() -> list[torch.Tensor]:
    """The bundled colour photographs (plus both motorcycle stereo views) as ``[3, H, W]``."""
    from skimage import data

    images = [getattr(data, name)() for name in PHOTOS]
    left, right, _ = data.stereo_motorcycle()
    images += [left, right]
    return [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1) / 255.0 for im in images]


def random_batch(
    images: Sequence[torch.Tensor], size: int, count: int, rng: random.Random
) -> torch.Tensor:
    """``count`` random ``size``² crops, each flipped left-right with probability ½."""
    crops = []
    for _ in range(count):
        image = images[rng.randrange(len(images))]
        top = rng.randrange(image.shape[1] - size + 1)
        left = rng.randrange(image.shape[2] - size + 1)
        crop = image[:, top : top + size, left : left + size]
        crops.append(crop.flip(-1) if rng.random() < 0.5 else crop)
    return torch.stack(crops)


def train(
    model: CompressionModel,
    images: Sequence[torch.Tensor],
    lmbda: float,
    steps: int,
    rng: random.Random,
    lr: float = 1e-3,
    crop: int = 128,
    batch: int = 8,
    label: str = "",
) -> None:
    """Minimise ``λ·255²·MSE + bpp`` with Adam; the quantile (aux) loss has its own Adam."""
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main, lr=lr)
    aux_opt = torch.optim.Adam(aux, lr=1e-3)
    model.train()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if step == int(steps * 0.8) + 1:
            for group in opt.param_groups:
                group["lr"] = lr / 10
        x = random_batch(images, crop, batch, rng)
        out = model(x)
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        rate = torch.stack([-torch.log2(lk).sum() for lk in out["likelihoods"].values()])
        rate = rate.sum() / pixels
        mse = torch.mean((out["x_hat"] - x) ** 2)
        loss = lmbda * 255**2 * mse + rate
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        opt.step()
        aux_opt.zero_grad()
        model.aux_loss().backward()
        aux_opt.step()
        if step % 50 == 0 or step == steps:
            psnr = 10 * math.log10(1 / max(mse.item(), 1e-10))
            print(
                f"{label} step {step}/{steps}: bpp {rate.item():.3f} psnr {psnr:.2f} dB "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    model.eval()


def real_bpp(model: CompressionModel, images: Sequence[torch.Tensor]) -> list[float]:
    """Entropy-coded bpp of each image (cropped to multiples of 64) after ``update``."""
    probe = copy.deepcopy(model)
    probe.update(force=True)
    rates = []
    with torch.inference_mode():
        for image in images:
            h, w = image.shape[1] // 64 * 64, image.shape[2] // 64 * 64
            out = probe.compress(image[None, :, :h, :w])
            rates.append(8 * sum(len(s[0]) for s in out["strings"]) / (h * w))
    return rates


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEMO_WEIGHTS_DIR)
    parser.add_argument("--n", type=int, default=32, help="ScaleHyperprior N")
    parser.add_argument("--m", type=int, default=64, help="ScaleHyperprior M")
    parser.add_argument("--lambda-high", type=float, default=0.1)
    parser.add_argument("--lambda-low", type=float, default=0.0025)
    parser.add_argument("--steps-high", type=int, default=1200)
    parser.add_argument("--steps-low", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    rng = random.Random(args.seed)
    images = load_photos()

    high = ScaleHyperprior(args.n, args.m)
    train(high, images, args.lambda_high, args.steps_high, rng, label="high")
    low = copy.deepcopy(high)
    train(low, images, args.lambda_low, args.steps_low, rng, label="low")

    for level, model in ((1, low), (2, high)):
        path = write_checkpoint(model.state_dict(), args.out, f"{DEMO_STEM}-{level}")
        rates = ", ".join(f"{r:.3f}" for r in real_bpp(model, images))
        print(f"level {level}: {path} ({path.stat().st_size / 1e6:.2f} MB); bpp {rates}")


if __name__ == "__main__":
    main()
