"""Helpers shared by the codec-layer tests."""

from __future__ import annotations

from pathlib import Path


def save_checkpoint(folder: Path, stem: str, n: int, m: int, seed: int = 0) -> Path:
    """Save a random ``ScaleHyperprior(n, m)`` as ``folder/<stem>-<sha8>.pth.tar``."""
    import torch
    from compressai.models import ScaleHyperprior

    from workers.codecs.checkpoints import write_checkpoint

    torch.manual_seed(seed)
    return write_checkpoint(ScaleHyperprior(n, m).state_dict(), folder, stem)
