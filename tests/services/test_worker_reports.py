"""Worker reports: live and gone workers, the codecs they offer, and refusing what none offers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from backend.core.config import get_settings
from backend.models import WorkerCodec, WorkerReport, utcnow
from backend.services import worker_reports
from tests.utils.worker_reports import report_worker

C1_MISSING = "bmshj2018-hyperprior-3-6d87be32.pth.tar in /weights"


def by_name(session) -> dict[str, worker_reports.WorkerStatus]:
    return {w.worker: w for w in worker_reports.workers(session)}


def test_a_report_is_live_until_older_than_the_staleness_limit(session, monkeypatch):
    monkeypatch.setenv("SCLIC_WORKER_REPORT_STALE_S", "30")
    get_settings.cache_clear()
    report_worker("gpu0@fresh", age_s=29)
    report_worker("gpu0@stale", age_s=31)
    found = by_name(session)
    assert found["gpu0@fresh"].live and not found["gpu0@stale"].live
    assert found["gpu0@stale"].age_s == pytest.approx(31, abs=5)
    # A gone worker's codecs are offered by nobody.
    offers = worker_reports.codec_offers(session)
    assert offers["91"].offered_by == ("gpu0@fresh",)
    assert [w.worker for w in worker_reports.workers(session)] == ["gpu0@fresh", "gpu0@stale"]


def test_a_worker_stopped_gracefully_is_gone_at_once(session):
    report_worker("gpu0@host")
    worker_reports.mark_stopped(session, "gpu0@host")
    [status] = worker_reports.workers(session)
    assert not status.live and status.stopped_at is not None
    assert not worker_reports.codec_offers(session)["91"].offered
    # Started again, it is live with a new start time.
    report_worker("gpu0@host")
    session.expire_all()
    [again] = worker_reports.workers(session)
    assert again.live and again.stopped_at is None and again.started_at > status.started_at


def test_reporting_again_replaces_the_codecs_and_keeps_the_start(session):
    report_worker("gpu0@host", missing={"01": C1_MISSING})
    first = by_name(session)["gpu0@host"]
    report_worker("gpu0@host")
    session.expire_all()
    second = by_name(session)["gpu0@host"]
    assert second.started_at == first.started_at and second.reported_at >= first.reported_at
    assert len(session.exec(select(WorkerReport)).all()) == 1
    rows = session.exec(select(WorkerCodec)).all()
    assert len(rows) == len({r.codec_id for r in rows}) == len(second.codecs)
    assert all(c.available for c in second.codecs)


def test_offers_are_the_union_over_live_codec_workers(session):
    report_worker("gpu0@a", missing={"01": C1_MISSING, "06": "SCLIC_JPEGAI_DIR"})
    report_worker("gpu1@b", missing={"91": "Pillow's JPEG encoder"}, only={"01", "91"})
    report_worker("cpu@c", queues=("cpu",))  # takes no codec work, whatever it could run
    offers = worker_reports.codec_offers(session)
    assert offers["01"].offered_by == ("gpu1@b",)
    assert offers["91"].offered_by == ("gpu0@a",)
    assert not offers["06"].offered
    assert offers["06"].missing == (
        ("gpu0@a", "SCLIC_JPEGAI_DIR"),
        ("gpu1@b", "this codec (unknown here)"),
    )
    # Paper codecs are known even before any worker reports them.
    session.execute(WorkerCodec.__table__.delete())  # type: ignore[attr-defined]
    session.execute(WorkerReport.__table__.delete())  # type: ignore[attr-defined]
    session.commit()
    offers = worker_reports.codec_offers(session)
    assert sorted(offers) == ["01", "02", "03", "04", "05", "06"]
    assert offers["03"].label == "03 C3"
    assert "no live worker takes the gpu queue" in offers["03"].reason


def test_require_offered_names_exactly_what_is_missing(session):
    report_worker("gpu0@host1", missing={"01": C1_MISSING})
    worker_reports.require_offered(session, ["90", "91"])  # offered: no error
    with pytest.raises(worker_reports.CodecNotOfferedError) as refused:
        worker_reports.require_offered(session, ["91", "01", "77"])
    message = str(refused.value)
    assert message.startswith(
        "codec 01 (Hyperprior MSE (bmshj2018-hyperprior, CompressAI zoo)): no live worker offers "
        f"it; gpu0@host1 is missing {C1_MISSING}"
    )
    assert "codec 77 (unknown codec)" in message and "codec 91" not in message
    assert [o.codec_id for o in refused.value.offers] == ["01", "77"]


def test_reports_of_workers_gone_for_a_week_are_dropped(session):
    report_worker("gpu0@old")
    old = session.exec(select(WorkerReport)).one()
    old.reported_at = utcnow() - timedelta(days=8)
    session.add(old)
    session.commit()
    report_worker("gpu0@new")
    session.expire_all()
    assert [w.worker for w in worker_reports.workers(session)] == ["gpu0@new"]
    assert {r.report_id for r in session.exec(select(WorkerCodec)).all()} == {
        session.exec(select(WorkerReport.id)).one()
    }
