"""Registering source images and reconstructions: files into the store, rows into the database.

Both are idempotent: registering the same content twice returns the existing row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from backend.models import RateSetting, Reconstruction, SourceDataset, SourceImage
from backend.services.store import absolute, blind_relpath, sha1_bytes, write_atomic


def get_or_create_dataset(session: Session, name: str, scale: float | None = None) -> SourceDataset:
    dataset = session.exec(select(SourceDataset).where(SourceDataset.name == name)).first()
    if dataset is None:
        dataset = SourceDataset(name=name, scale=scale)
        session.add(dataset)
        session.commit()
        session.refresh(dataset)
    return dataset


def register_source(
    session: Session,
    dataset: SourceDataset,
    *,
    original_name: str,
    original_bytes: bytes,
    original_suffix: str,
    prepared_png: bytes,
    width: int,
    height: int,
    notes: str = "",
    with_rows: Sequence[SQLModel] = (),
) -> tuple[SourceImage, bool]:
    """Store the untouched original and the prepared PNG; returns (row, created).

    ``with_rows`` are committed in the same transaction as a new source row (an ingest run's
    line for the file, so a run stopped in between never loses it); nothing when not created.
    """
    sha256 = hashlib.sha256(original_bytes).hexdigest()
    existing = session.exec(
        select(SourceImage).where(SourceImage.original_sha256 == sha256)
    ).first()
    if existing is not None:
        return existing, False
    prepared_sha1 = sha1_bytes(prepared_png)
    original_rel = f"originals/{sha256[:2]}/{sha256}{original_suffix.lower()}"
    prepared_rel = blind_relpath("sources", prepared_sha1)
    write_atomic(absolute(original_rel), original_bytes)
    write_atomic(absolute(prepared_rel), prepared_png)
    source = SourceImage(
        dataset_id=dataset.id,  # type: ignore[arg-type]
        original_name=original_name,
        original_path=original_rel,
        original_sha256=sha256,
        prepared_sha1=prepared_sha1,
        prepared_path=prepared_rel,
        width=width,
        height=height,
        notes=notes,
    )
    session.add(source)
    session.add_all(with_rows)
    session.commit()
    session.refresh(source)
    return source, True


def find_reconstruction(
    session: Session, source_id: int, codec_id: str, setting: RateSetting
) -> Reconstruction | None:
    return session.exec(
        select(Reconstruction).where(
            Reconstruction.source_image_id == source_id,
            Reconstruction.codec_id == codec_id,
            Reconstruction.setting == setting,
        )
    ).first()


def add_reconstruction_row(
    session: Session,
    source: SourceImage,
    *,
    codec_id: str,
    setting: RateSetting,
    blind_name: str,
    png_relpath: str,
    bitstream_relpath: str | None,
    width: int,
    height: int,
    measures: dict[str, Any] | None = None,
) -> Reconstruction:
    """The row for files already in the store. A concurrent twin (a job delivered twice) may
    insert first: then its row is returned and nothing is added."""
    measures = dict(measures or {})
    recon = Reconstruction(
        source_image_id=source.id,  # type: ignore[arg-type]
        codec_id=codec_id,
        setting=setting,
        blind_name=blind_name,
        png_path=png_relpath,
        bitstream_path=bitstream_relpath,
        width=width,
        height=height,
        bitstream_bytes=measures.get("bitstream_bytes"),
        bpp=measures.get("bpp"),
        psnr=measures.get("psnr"),
        ssim=measures.get("ssim"),
        ms_ssim=measures.get("ms_ssim"),
        encode_s=measures.get("encode_s"),
        decode_s=measures.get("decode_s"),
        device=measures.get("device"),
        versions=measures.get("versions") or {},
        hardware=measures.get("hardware"),
        weights_sha256=measures.get("weights_sha256"),
        provenance=measures.get("provenance") or {},
        params=measures.get("params") or {},
    )
    session.add(recon)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_reconstruction(session, source.id, codec_id, setting)  # type: ignore[arg-type]
        if existing is None:
            raise
        return existing
    session.refresh(recon)
    return recon


def register_reconstruction(
    session: Session,
    source: SourceImage,
    *,
    codec_id: str,
    setting: RateSetting,
    png_bytes: bytes,
    bitstream: bytes | None,
    width: int,
    height: int,
    measures: dict[str, Any] | None = None,
) -> Reconstruction:
    """Store the reconstruction under its blind name (SHA-1 of the PNG bytes)."""
    existing = find_reconstruction(session, source.id, codec_id, setting)  # type: ignore[arg-type]
    if existing is not None:
        return existing
    blind_name = sha1_bytes(png_bytes)
    png_rel = blind_relpath("reconstructions", blind_name)
    write_atomic(absolute(png_rel), png_bytes)
    bitstream_rel = None
    if bitstream is not None:
        bitstream_rel = blind_relpath("reconstructions", blind_name, ".sclc")
        write_atomic(absolute(bitstream_rel), bitstream)
    measures = {
        "bitstream_bytes": len(bitstream) if bitstream is not None else None,
        **(measures or {}),
    }
    return add_reconstruction_row(
        session,
        source,
        codec_id=codec_id,
        setting=setting,
        blind_name=blind_name,
        png_relpath=png_rel,
        bitstream_relpath=bitstream_rel,
        width=width,
        height=height,
        measures=measures,
    )


# The largest box a source image is shown in on the admin's pages (prescreening, the source
# page); smaller images are shown at their own size.
PREVIEW_BOX = (1600, 1100)


def preview_url(image: SourceImage) -> str:
    """An IIIF request for ``image`` confined to :data:`PREVIEW_BOX`, never asking the server
    to upscale."""
    width, height = min(PREVIEW_BOX[0], image.width), min(PREVIEW_BOX[1], image.height)
    return f"/iiif/3/{image.prepared_sha1}/full/!{width},{height}/0/default.jpg"
