"""Compression page: start jobs, the self-stopping progress widget, failures and retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from backend.core.config import get_settings
from backend.models import CompressionJob, JobStatus, RateSetting
from backend.services import anonymise, claims
from backend.views.admin import compression as page
from tests.services.helpers import fake_sources
from tests.utils.factories import make_reconstruction
from tests.views.admin.conftest import without_csrf

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def offered(codec_worker):
    """A live worker offers every codec: these tests are about the form and the jobs; what
    happens to codecs that no worker offers is in test_codecs_views.py."""
    return codec_worker


@pytest.fixture()
def sent(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(page.compression, "start_jobs", lambda job_ids: ids.extend(job_ids))
    return ids


def jobs(session):
    session.expire_all()
    return session.exec(select(CompressionJob).order_by(CompressionJob.id)).all()


def test_start_for_chosen_ids_codecs_and_settings(client, admin, session, sent):
    ids = fake_sources(session, 5)
    data = {
        "scope": "ids",
        "ids": f"{ids[0]}, {ids[2]}-{ids[3]}",
        "codecs": ["91", "92"],
        "settings": ["low"],
    }
    response = client.post("/admin/compression", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert "6+jobs+queued+for+3+images" in response.headers["location"]
    assert len(sent) == 6
    assert {(j.source_image_id, j.codec_id) for j in jobs(session)} == {
        (i, c) for i in (ids[0], ids[2], ids[3]) for c in ("91", "92")
    }
    again = client.post("/admin/compression", data=data, follow_redirects=False)
    assert "0+jobs" in again.headers["location"] and len(jobs(session)) == 6


def test_start_for_a_dataset(client, admin, session, sent):
    fake_sources(session, 6, datasets=("CLIC", "DIV2K"))
    data = {"scope": "dataset", "dataset": "CLIC", "codecs": ["91"], "settings": ["low", "high"]}
    client.post("/admin/compression", data=data)
    assert len(jobs(session)) == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"codecs": [], "settings": ["low"]}, "at least one registered codec"),
        ({"codecs": ["77"], "settings": ["low"]}, "at least one registered codec"),
        ({"codecs": ["91"], "settings": []}, "the low setting"),
        ({"codecs": ["91"], "settings": ["low"], "scope": "ids", "ids": "1;x"}, "not an id"),
        (
            {"codecs": ["91"], "settings": ["low"], "scope": "ids", "ids": "1-999999999"},
            "too large",
        ),
        (
            {"codecs": ["91"], "settings": ["low"], "scope": "ids", "ids": "424242"},
            "not prepared source images",
        ),
        (
            {"codecs": ["91"], "settings": ["low"], "scope": "dataset", "dataset": "nope"},
            "source datasets",
        ),
        ({"codecs": ["91"], "settings": ["low"], "scope": "weird"}, "which images"),
    ],
)
def test_bad_requests_explain_and_queue_nothing(client, admin, session, sent, data, message):
    fake_sources(session, 2)
    response = client.post("/admin/compression", data={"scope": "all", **data})
    assert response.status_code == 422 and message in response.text
    assert jobs(session) == [] and sent == []


def test_widget_polls_until_every_job_has_finished(client, admin, session, sent):
    ids = fake_sources(session, 2)
    client.post("/admin/compression", data={"scope": "all", "codecs": ["91"], "settings": ["low"]})
    fragment = client.get("/admin/compression", headers=HX).text
    assert fragment.lstrip().startswith('<div id="compression-status"')
    assert 'hx-trigger="every 2s"' in fragment and 'data-polling="yes"' in fragment
    first, second = jobs(session)
    first.status = JobStatus.done
    second.status, second.error = JobStatus.failed, "CodecError: weights missing in /data/weights"
    session.add_all([first, second])
    session.commit()
    done = client.get("/admin/compression", headers=HX).text
    assert "hx-trigger" not in done and "All jobs have finished." in done
    assert "weights missing in /data/weights" in done
    assert f"/admin/compression/jobs/{second.id}/retry" in done
    retried = client.post(f"/admin/compression/jobs/{second.id}/retry", headers=HX)
    assert "queued again" in retried.text and 'hx-trigger="every 2s"' in retried.text
    assert jobs(session)[1].status == JobStatus.queued and sent[-1] == second.id
    assert ids


def test_retry_refuses_jobs_that_did_not_fail_or_were_cancelled(client, admin, session, sent):
    [source_id] = fake_sources(session, 1)
    done = CompressionJob(
        source_image_id=source_id, codec_id="91", setting=RateSetting.low, status=JobStatus.done
    )
    cancelled = CompressionJob(
        source_image_id=source_id,
        codec_id="91",
        setting=RateSetting.high,
        status=JobStatus.failed,
        error=anonymise.CANCELLED,
    )
    session.add_all([done, cancelled])
    session.commit()
    for job in (done, cancelled):
        response = client.post(f"/admin/compression/jobs/{job.id}/retry", follow_redirects=False)
        assert "was+not+a+failed+job" in response.headers["location"]
    assert client.post("/admin/compression/retry-failed", follow_redirects=False).status_code == 303
    assert sent == []
    without_csrf(client)
    assert client.post(f"/admin/compression/jobs/{done.id}/retry").status_code == 403


def test_failed_metrics_are_listed_and_measured_again(client, admin, session, monkeypatch):
    measured = make_reconstruction(session, seed=1)
    measured.ssim = 0.9
    broken = make_reconstruction(session, seed=2)
    broken.metrics_error = "InvalidImageError: not a readable PNG"
    pending = make_reconstruction(session, seed=3)
    session.add_all([measured, broken])
    session.commit()
    fragment = client.get("/admin/compression", headers=HX).text
    assert "Metrics that failed" in fragment and "not a readable PNG" in fragment
    action = f"/admin/compression/reconstructions/{broken.id}/measure"
    assert action in fragment
    assert f"/reconstructions/{pending.id}/measure" not in fragment
    assert f"/reconstructions/{measured.id}/measure" not in fragment
    sent: list[tuple[object, ...]] = []
    monkeypatch.setattr(page.compression, "enqueue", lambda *args: sent.append(args))
    again = client.post(action, headers=HX).text
    assert "sent to be measured again" in again and "not a readable PNG" not in again
    assert sent == [("measure", broken.id)]
    session.refresh(broken)
    assert broken.metrics_error is None
    refused = client.post(
        f"/admin/compression/reconstructions/{measured.id}/measure", follow_redirects=False
    )
    assert "measured+already" in refused.headers["location"] and len(sent) == 1
    gone = client.post("/admin/compression/reconstructions/999999/measure", follow_redirects=False)
    assert "measured+already+or+gone" in gone.headers["location"]
    assert client.post("/admin/compression/reconstructions/x/measure").status_code == 422
    without_csrf(client)
    assert client.post(action).status_code == 403


def stranded_jobs(session, stale_s: float) -> tuple[CompressionJob, CompressionJob]:
    """A job left running by a worker that is gone and one left queued, both last touched
    ``stale_s`` seconds ago (the clock moved back on the rows, not waited for)."""
    [source_id] = fake_sources(session, 1)
    ids = page.compression.create_jobs(
        session, [source_id], [("91", RateSetting.low), ("92", RateSetting.low)]
    )
    running, queued = jobs(session)
    long_ago = running.created_at - timedelta(seconds=stale_s)
    running.status, running.claimed_by = JobStatus.running, "gone-host:4242:dead"
    running.heartbeat_at = running.updated_at = long_ago
    queued.updated_at = long_ago
    session.add_all([running, queued])
    session.commit()
    assert [running.id, queued.id] == ids
    return running, queued


def test_jobs_nobody_is_on_show_as_interrupted_and_resume(client, admin, session, sent):
    """After a restart a job stays running with a stale claim, or queued with its message gone:
    the widget says so instead of polling forever, and its button sends them again."""
    stale_s = get_settings().task_stale_after_s + 1
    running, queued = stranded_jobs(session, stale_s)
    fragment = client.get("/admin/compression", headers=HX).text
    assert 'id="compression-interrupted"' in fragment and "hx-trigger" not in fragment
    assert "2 queued or running jobs have had no worker on them" in fragment
    assert fragment.count("1 interrupted") == 2 and "All jobs have finished." not in fragment
    assert 'action="/admin/compression/resume-interrupted"' in fragment

    resumed = client.post("/admin/compression/resume-interrupted", headers=HX).text
    assert "2 interrupted jobs queued again." in resumed and 'hx-trigger="every 2s"' in resumed
    assert 'id="compression-interrupted"' not in resumed
    assert sent == [running.id, queued.id]
    for job in jobs(session):
        assert job.status == JobStatus.queued and job.claimed_by is None
        assert job.heartbeat_at is None
    # Sent again, they are fresh: a second press sends nothing twice.
    again = client.post("/admin/compression/resume-interrupted", follow_redirects=False)
    assert "0+interrupted+jobs+queued+again" in again.headers["location"] and len(sent) == 2
    without_csrf(client)
    assert client.post("/admin/compression/resume-interrupted").status_code == 403


def test_jobs_that_wait_their_turn_or_have_a_live_worker_are_not_interrupted(
    client, admin, session, sent
):
    """In a long run the later jobs wait in the queue while a worker codes the earlier ones:
    only a running job whose claim went stale is interrupted then."""
    stale_s = get_settings().task_stale_after_s + 1
    running, queued = stranded_jobs(session, stale_s)
    [source_id] = fake_sources(session, 1, tag="live")
    [live_id] = page.compression.create_jobs(session, [source_id], [("91", RateSetting.high)])
    assert claims.claim(session, CompressionJob, live_id, "live-host:1:alive")
    fragment = client.get("/admin/compression", headers=HX).text
    assert 'hx-trigger="every 2s"' in fragment  # a live worker is on a job: still working
    assert "1 queued or running jobs have had no worker on them" in fragment
    client.post("/admin/compression/resume-interrupted")
    assert sent == [running.id]
    left = {job.id: job for job in jobs(session)}
    assert left[live_id].claimed_by == "live-host:1:alive"
    assert left[queued.id].status == JobStatus.queued and left[queued.id].heartbeat_at is None
