"""Rows for tests, built through the same services the platform uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.demo import center_crop_multiple, png_bytes
from backend.imaging.png import encode as encode_png
from backend.models import (
    Assignment,
    Batch,
    BatchItem,
    Bulk,
    RateSetting,
    Reconstruction,
    Role,
    SourceImage,
    User,
)
from backend.services.auth import create_user
from backend.services.images import get_or_create_dataset, register_reconstruction, register_source

PASSWORD = "s3cret-pass"


def make_user(session: Session, username: str, role: Role = Role.labeler) -> User:
    return create_user(session, username, PASSWORD, role)


def photo(name: str = "astronaut") -> np.ndarray:
    import skimage.data as data

    return center_crop_multiple(getattr(data, name)())


def make_source(
    session: Session, rgb: np.ndarray, name: str = "source", dataset: str = "test-set"
) -> SourceImage:
    """A source image already prepared: ``rgb`` is both the original and the prepared PNG."""
    source, _ = register_source(
        session,
        get_or_create_dataset(session, dataset),
        original_name=f"{name}.png",
        original_bytes=png_bytes(rgb),
        original_suffix=".png",
        prepared_png=encode_png(rgb),
        width=rgb.shape[1],
        height=rgb.shape[0],
    )
    return source


def make_reconstruction(
    session: Session,
    rgb: np.ndarray | None = None,
    *,
    codec_id: str = "91",
    setting: RateSetting = RateSetting.low,
    seed: int = 0,
) -> Reconstruction:
    """A source image and a reconstruction of it (the source plus seeded noise)."""
    # Each seed is a different source image: the photograph shifted by a few pixels.
    rgb = np.roll(photo() if rgb is None else rgb, seed * 7, axis=1)
    rng = np.random.default_rng(seed)
    noisy = np.clip(rgb.astype(np.int16) + rng.integers(-12, 13, rgb.shape), 0, 255).astype(
        np.uint8
    )
    source = make_source(session, rgb, f"secret-original-name-{seed}")
    return register_reconstruction(
        session,
        source,
        codec_id=codec_id,
        setting=setting,
        png_bytes=encode_png(noisy),
        bitstream=b"bits",
        width=rgb.shape[1],
        height=rgb.shape[0],
        measures={"bpp": 0.25},
    )


@dataclass
class BatchFixture:
    batch: Batch
    items: list[Reconstruction]


def make_batch(
    session: Session,
    labeler: User | None,
    n_items: int = 2,
    *,
    name: str = "Batch 1",
    seed0: int = 0,
) -> BatchFixture:
    bulk = Bulk(number=1, name="Bulk 1")
    session.add(bulk)
    session.commit()
    batch = Batch(bulk_id=bulk.id, number=1, name=name)
    session.add(batch)
    session.commit()
    items = []
    for position in range(n_items):
        recon = make_reconstruction(session, seed=seed0 + position)
        session.add(BatchItem(batch_id=batch.id, position=position, reconstruction_id=recon.id))  # type: ignore[arg-type]
        items.append(recon)
    if labeler is not None:
        session.add(Assignment(batch_id=batch.id, labeler_id=labeler.id))  # type: ignore[arg-type]
    session.commit()
    session.refresh(batch)
    return BatchFixture(batch, items)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the JSON API; returns the CSRF token and sets it as a default header."""
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token
