"""Study plans: versions, preview, compression jobs and the cut into bulks and batches."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sqlmodel import select

from backend.models import (
    AuditEntry,
    Batch,
    BatchItem,
    Bulk,
    CompressionJob,
    Reconstruction,
    SourceImage,
    SourceStatus,
    StudyPlan,
)
from backend.planning.halves import CODEC_SETS
from backend.services import plans
from tests.services.helpers import fake_reconstructions, fake_sources


@pytest.fixture()
def no_enqueue(monkeypatch):
    """Collects the job ids that would go to the workers instead of running them."""
    sent: list[int] = []
    monkeypatch.setattr(plans.compression, "start_jobs", lambda ids: sent.extend(ids))
    return sent


def planned_triples(plan: StudyPlan) -> list[tuple[int, str, str]]:
    params = plans.PlanParams.from_row(plan)
    return [
        (i, c, s)
        for i, h in plans.halves_of(plan).items()
        for c in params.codec_sets[h]
        for s in params.settings
    ]


def test_every_change_is_a_new_version_and_old_ones_stay(session):
    fake_sources(session, 12)
    first, created = plans.save_plan(session, plans.PlanParams(), None)
    assert created and first.version == 1
    same, created = plans.save_plan(session, plans.PlanParams(), None)
    assert not created and same.id == first.id
    second, created = plans.save_plan(session, plans.PlanParams(seed=7, batch_size=20), None)
    assert created and second.version == 2
    session.expire_all()
    kept = session.get(StudyPlan, first.id)
    assert kept.seed == 0 and kept.params["batch_size"] == 25
    assert [v.version for v in plans.versions(session)] == [2, 1]
    halves = kept.params["halves"]
    assert len(halves["A"]) == len(halves["B"]) == 6
    assert kept.params["codec_sets"] == {h: list(c) for h, c in CODEC_SETS.items()}
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "save_plan")).all()


def test_preview_counts_halves_and_models_without_writing(session):
    fake_sources(session, 30)
    found = plans.preview_plan(session, plans.PlanParams(seed=3))
    assert found.images == 30 and found.reconstructions == 30 * 8
    assert {h: sum(c.values()) for h, c in found.per_half.items()} == {"A": 15, "B": 15}
    assert all(n == 5 for c in found.per_half.values() for n in c.values())  # per dataset
    assert found.per_model["03L"] == 30 and found.per_model["01H"] == 15
    assert found.layout["bulks"] == 2 and found.problems == []
    assert session.exec(select(StudyPlan)).all() == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        (plans.PlanParams(codec_sets={"A": ("01", "77"), "B": ("02",)}), "unknown codec"),
        (plans.PlanParams(codec_sets={"A": (), "B": ("02",)}), "at least one codec"),
        (plans.PlanParams(codec_sets={"A": ("01", "01"), "B": ("02",)}), "twice"),
        (plans.PlanParams(settings=()), "settings"),
        (plans.PlanParams(bulk_size=0), "bulk size"),
        (plans.PlanParams(batch_size=10**9), "batch size"),
        (plans.PlanParams(seed=-1), "seed"),
    ],
)
def test_bad_choices_are_refused_and_nothing_saved(session, params, words):
    fake_sources(session, 4)
    with pytest.raises(plans.PlanError, match=words):
        plans.save_plan(session, params, None)
    assert session.exec(select(StudyPlan)).all() == []


def test_start_compression_adds_each_job_once(session, no_enqueue):
    ids = fake_sources(session, 10)
    plan, _ = plans.save_plan(session, plans.PlanParams(), None)
    excluded = session.get(SourceImage, ids[0])
    excluded.status = SourceStatus.excluded
    session.add(excluded)
    session.commit()
    assert plans.start_compression(session, plan, None) == 9 * 8
    assert len(no_enqueue) == 9 * 8
    assert plans.start_compression(session, plan, None) == 0
    jobs = session.exec(select(CompressionJob)).all()
    assert {j.source_image_id for j in jobs} == set(ids[1:])
    half_of = plans.halves_of(plan)
    for job in jobs:
        assert job.codec_id in CODEC_SETS[half_of[job.source_image_id]]
    progress = plans.plan_progress(session, plan)
    assert (progress.expected, progress.existing, progress.jobs) == (72, 0, {"queued": 72})


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
    cut = plans.cut_bulks(session, plan, None)
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
    again = plans.cut_bulks(session, plan, None)
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
    first = plans.prepare_cut(session, plan)
    assert (first.ready_images, first.waiting_images) == (7, 1)
    plans.cut_bulks(session, plan, None)
    fake_reconstructions(session, [t for t in triples if t[0] == late and t[2] == "high"])
    second = plans.cut_bulks(session, plan, None)
    assert second.ready_images == 1 and second.placed_images == 7
    numbers = session.exec(select(Bulk.number).order_by(Bulk.number)).all()
    assert numbers == sorted(set(numbers)) and len(numbers) == 3
    _, bulks_of, _, _ = bulk_layout(session)
    assert all(len(b) == 1 for b in bulks_of.values()) and len(bulks_of) == 8


def test_a_broken_rule_writes_nothing(session, monkeypatch):
    fake_sources(session, 6)
    plan, _ = plans.save_plan(session, plans.PlanParams(), None)
    fake_reconstructions(session, planned_triples(plan))
    monkeypatch.setattr(plans, "check_plan", lambda *a: ["bulk 1 batch 1 repeats a source image"])
    with pytest.raises(plans.PlanError, match="repeats"):
        plans.cut_bulks(session, plan, None)
    assert session.exec(select(Bulk)).all() == [] and session.exec(select(Batch)).all() == []


def test_excluded_images_and_other_codecs_stay_out_of_the_cut(session):
    ids = fake_sources(session, 6)
    plan, _ = plans.save_plan(session, plans.PlanParams(), None)
    fake_reconstructions(session, planned_triples(plan) + [(i, "91", "low") for i in ids])
    gone = session.get(SourceImage, ids[2])
    gone.status = SourceStatus.anonymised
    session.add(gone)
    session.commit()
    plans.cut_bulks(session, plan, None)
    rows, bulks_of, _, codecs = bulk_layout(session)
    assert ids[2] not in bulks_of and len(bulks_of) == 5
    assert "91" not in set().union(*codecs.values())
