"""Data-subject requests: pixels and tiles removed, annotations and coordinates kept."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.core.config import get_settings
from backend.iiif import ResolvedImage, TileService
from backend.models import (
    Annotation,
    AuditEntry,
    CompressionJob,
    JobStatus,
    RateSetting,
    Reconstruction,
    Role,
    SourceImage,
    SourceStatus,
)
from backend.services import anonymise
from backend.services.store import absolute
from tests.utils.factories import make_reconstruction, make_user


def test_pixels_and_tiles_go_annotations_stay(session):
    boss = make_user(session, "boss", Role.admin)
    ana = make_user(session, "ana")
    recon = make_reconstruction(session, seed=1)
    source = session.get(SourceImage, recon.source_image_id)
    session.add(Annotation(reconstruction_id=recon.id, labeler_id=ana.id, x=3, y=4, w=20, h=10))
    session.add(CompressionJob(source_image_id=source.id, codec_id="92", setting=RateSetting.high))
    session.commit()
    tiles = TileService(get_settings().tile_cache_dir, tile_size=256)
    tiles.pregenerate(ResolvedImage(recon.blind_name, "image", absolute(recon.png_path)))
    tiles.pregenerate(ResolvedImage(source.prepared_sha1, "image", absolute(source.prepared_path)))
    folders = [tiles.disk.folder(recon.blind_name), tiles.disk.folder(source.prepared_sha1)]
    assert all(f.is_dir() for f in folders)
    paths = [source.original_path, source.prepared_path, recon.png_path, recon.bitstream_path]

    result = anonymise.anonymise_source(
        session, source.id, actor_id=boss.id, reference="letter of 2026-11-02", tiles=tiles
    )

    assert sorted(result.files_removed) == sorted(paths)
    assert not any(absolute(p).exists() for p in paths)
    assert not any(f.exists() for f in folders)
    expected = [source.prepared_sha1, recon.blind_name, f"{recon.blind_name}-diff"]
    assert result.identifiers == expected
    session.expire_all()
    assert session.get(SourceImage, source.id).status == SourceStatus.anonymised
    kept = session.exec(select(Annotation)).one()
    assert (kept.x, kept.y, kept.w, kept.h) == (3, 4, 20, 10)
    assert session.get(Reconstruction, recon.id).blind_name == recon.blind_name
    job = session.exec(select(CompressionJob)).one()
    assert job.status == JobStatus.failed and job.error == anonymise.CANCELLED
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "anonymise_source")).one()
    assert entry.actor_id == boss.id and entry.target == f"source:{source.id}"
    assert entry.detail["reference"] == "letter of 2026-11-02"
    assert [who for _, who in anonymise.history(session, source.id)] == ["boss"]

    repeat = anonymise.anonymise_source(
        session, source.id, actor_id=boss.id, reference="again", tiles=tiles
    )
    assert repeat.already and repeat.files_removed == []
    assert len(session.exec(select(AuditEntry)).all()) == 1


def test_a_reference_is_required_and_unknown_images_refused(session):
    recon = make_reconstruction(session, seed=2)
    with pytest.raises(anonymise.AnonymiseError, match="reference"):
        anonymise.anonymise_source(session, recon.source_image_id, actor_id=None, reference=" ")
    with pytest.raises(anonymise.AnonymiseError, match="no source"):
        anonymise.anonymise_source(session, 987654, actor_id=None, reference="x")
    session.expire_all()
    assert session.get(SourceImage, recon.source_image_id).status == SourceStatus.prepared
    assert absolute(recon.png_path).exists()
