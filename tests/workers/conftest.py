"""Fixtures for the codec-layer tests: small images and self-made checkpoints.

Checkpoints are random-initialised ``ScaleHyperprior`` models saved the way the CompressAI zoo
names its files (``<stem>-<sha256 prefix>.pth.tar``), so the real loading path runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.workers.helpers import save_checkpoint


def astronaut_crop() -> np.ndarray:
    """A 256 × 192 crop of scikit-image's astronaut (RGB uint8)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:292, 128:384])


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 256 × 192 crop of scikit-image's astronaut (RGB uint8)."""
    return astronaut_crop()


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder with a random C1 quality-3 checkpoint (N=128, M=192)."""
    folder = tmp_path_factory.mktemp("weights")
    save_checkpoint(folder, "bmshj2018-hyperprior-3", 128, 192)
    return folder


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """Run torch on one thread: CPU results depend on the thread count, not on the core count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
