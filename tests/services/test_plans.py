"""Study plans: versions, preview, compression jobs and progress."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.models import AuditEntry, CompressionJob, Plan, SourceImage, SourceStatus
from backend.plans.halves import CODEC_SETS
from backend.services import plans
from tests.services.helpers import fake_sources


@pytest.fixture()
def no_enqueue(monkeypatch):
    """Collects the job ids that would go to the workers instead of running them."""
    sent: list[int] = []
    monkeypatch.setattr(plans.compression, "start_jobs", lambda ids: sent.extend(ids))
    return sent


def test_every_change_is_a_new_version_and_old_ones_stay(session):
    fake_sources(session, 12)
    first, created = plans.save_plan(session, plans.PlanParams(), None)
    assert created and first.version == 1
    same, created = plans.save_plan(session, plans.PlanParams(), None)
    assert not created and same.id == first.id
    second, created = plans.save_plan(session, plans.PlanParams(seed=7, batch_size=20), None)
    assert created and second.version == 2
    session.expire_all()
    kept = session.get(Plan, first.id)
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
    assert session.exec(select(Plan)).all() == []


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
    assert session.exec(select(Plan)).all() == []


def test_start_compression_adds_each_job_once(session, no_enqueue, codec_worker):
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
