"""The cut of a study plan into bulks and batches: the paper's rules, repeats, waiting images."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sqlmodel import select

from backend.models import Batch, BatchItem, Bulk, Reconstruction, SourceImage, SourceStatus
from backend.plans.halves import CODEC_SETS
from backend.services import plan_cuts, plans
from tests.services.helpers import fake_reconstructions, fake_sources, planned_triples


def bulk_layout(session):
    """Image -> bulks, batch -> images, as written in the database."""
    rows = session.exec(
        select(Bulk.number, Batch.id, Reconstruction.source_image_id, Reconstruction.codec_id)
        .join(Batch, Batch.bulk_id == Bulk.id)
        .join(BatchItem, BatchItem.batch_id == Batch.id)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)
    ).all()
    bulks_of = defaultdict(set)
    batch_images = defaultdict(list)
    codecs_of_bulk = defaultdict(set)
    for bulk, batch, image, codec in rows:
        bulks_of[image].add(bulk)
        batch_images[batch].append(image)
        codecs_of_bulk[bulk].add(codec)
    return rows, bulks_of, batch_images, codecs_of_bulk


def test_cut_at_paper_scale_keeps_every_rule(session):
    fake_sources(session, 440)
    plan, _ = plans.save_plan(session, plans.PlanParams(seed=11), None)
    triples = planned_triples(plan)
    fake_reconstructions(session, triples)
    cut = plan_cuts.cut_bulks(session, plan, None)
    assert cut.problems == [] and cut.ready_images == 440
    rows, bulks_of, batch_images, codecs_of_bulk = bulk_layout(session)
    assert len(rows) == len(triples) == 3520
    assert all(len(b) == 1 for b in bulks_of.values())  # an image's versions share one bulk
    images_per_bulk = Counter(next(iter(b)) for b in bulks_of.values())
    assert sorted(images_per_bulk.values()) == [20, 20, 200, 200]
    for images in batch_images.values():
        assert len(images) <= 25 and len(set(images)) == len(images)  # no image twice
    assert sorted(tuple(sorted(c)) for c in codecs_of_bulk.values()) == sorted(
        [tuple(sorted(CODEC_SETS["A"]))] * 2 + [tuple(sorted(CODEC_SETS["B"]))] * 2
    )
    items = session.exec(select(BatchItem.reconstruction_id)).all()
    assert len(items) == len(set(items))
    # A full bulk of 200 images with eight reconstructions each is 64 batches of 25.
    full = [b for b, n in images_per_bulk.items() if n == 200]
    for number in full:
        sizes = Counter(batch for batch, image in _batch_bulk(session) if image == number)
        assert len(sizes) == 64 and set(sizes.values()) == {25}
    again = plan_cuts.cut_bulks(session, plan, None)
    assert again.written_bulks == [] and again.placed_images == 440
    assert len(session.exec(select(BatchItem)).all()) == 3520


def _batch_bulk(session):
    return session.exec(
        select(BatchItem.batch_id, Bulk.number)
        .join(Batch, Batch.id == BatchItem.batch_id)
        .join(Bulk, Bulk.id == Batch.bulk_id)
    ).all()


def test_cut_waits_for_missing_reconstructions_then_adds_them(session):
    fake_sources(session, 8)
    plan, _ = plans.save_plan(session, plans.PlanParams(bulk_size=200, batch_size=5), None)
    triples = planned_triples(plan)
    late = triples[0][0]
    fake_reconstructions(session, [t for t in triples if not (t[0] == late and t[2] == "high")])
    first = plan_cuts.prepare_cut(session, plan)
    assert (first.ready_images, first.waiting_images) == (7, 1)
    plan_cuts.cut_bulks(session, plan, None)
    fake_reconstructions(session, [t for t in triples if t[0] == late and t[2] == "high"])
    second = plan_cuts.cut_bulks(session, plan, None)
    assert second.ready_images == 1 and second.placed_images == 7
    numbers = session.exec(select(Bulk.number).order_by(Bulk.number)).all()
    assert numbers == sorted(set(numbers)) and len(numbers) == 3
    _, bulks_of, _, _ = bulk_layout(session)
    assert all(len(b) == 1 for b in bulks_of.values()) and len(bulks_of) == 8


def test_a_broken_rule_writes_nothing(session, monkeypatch):
    fake_sources(session, 6)
    plan, _ = plans.save_plan(session, plans.PlanParams(), None)
    fake_reconstructions(session, planned_triples(plan))
    broken = ["bulk 1 batch 1 repeats a source image"]
    monkeypatch.setattr(plan_cuts, "check_plan", lambda *a: broken)
    with pytest.raises(plans.PlanError, match="repeats"):
        plan_cuts.cut_bulks(session, plan, None)
    assert session.exec(select(Bulk)).all() == [] and session.exec(select(Batch)).all() == []


def test_excluded_images_and_other_codecs_stay_out_of_the_cut(session):
    ids = fake_sources(session, 6)
    plan, _ = plans.save_plan(session, plans.PlanParams(), None)
    fake_reconstructions(session, planned_triples(plan) + [(i, "91", "low") for i in ids])
    gone = session.get(SourceImage, ids[2])
    gone.status = SourceStatus.anonymised
    session.add(gone)
    session.commit()
    plan_cuts.cut_bulks(session, plan, None)
    rows, bulks_of, _, codecs = bulk_layout(session)
    assert ids[2] not in bulks_of and len(bulks_of) == 5
    assert "91" not in set().union(*codecs.values())
