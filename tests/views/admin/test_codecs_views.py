"""The codec page, and the forms that queue codec work: only what a live worker offers runs.

Defect (issue 11, section 6): the plan and compression forms offered every registered codec as
a plain checkbox, defaulting to the paper's six; starting them queued jobs that all failed at
once, and the page then said "All jobs have finished.". Codecs no live worker can run are now
shown as such, never preselected, and refused before anything is queued.
"""

from __future__ import annotations

import re

from sqlmodel import select

from backend.models import CompressionJob, Plan
from backend.services import compression, plans
from tests.services.helpers import fake_sources
from tests.utils.worker_reports import report_worker
from tests.views.admin.conftest import PAPER_PLAN_FORM, squash

C1_MISSING = "bmshj2018-hyperprior-3-6d87be32.pth.tar in /srv/weights"
PAPER_MISSING = {
    "01": C1_MISSING,
    "02": "bmshj2018-hyperprior-ms-ssim-1-2fd0a3f8.pth.tar in /srv/weights",
    "03": "not implemented yet in this build (later work): HiFiC",
    "04": "not implemented yet in this build (later work): STF",
    "05": "not implemented yet in this build (later work): CDC",
    "06": "the JPEG AI reference software (SCLIC_JPEGAI_DIR)",
}


def queued_nothing(session, sent) -> bool:
    session.expire_all()
    return sent == [] and session.exec(select(CompressionJob)).all() == []


def test_the_codec_page_shows_each_workers_report_with_its_age(client, admin, session):
    report_worker("gpu0@host1", missing={"01": C1_MISSING}, age_s=12)
    report_worker("gpu1@host2", age_s=600)
    page = client.get("/admin/codecs")
    assert page.status_code == 200
    text = squash(page.text)
    assert 'data-worker="gpu0@host1" data-live="yes"' in text
    assert re.search(r"live, reported 1[2-9] s ago", text)  # written 12 s before the request
    assert 'data-worker="gpu1@host2" data-live="no"' in text
    assert "gone: no report for 10 min" in text
    # Codec 01 is offered by nobody: the gone worker could run it, the live one lacks its weights.
    row = re.search(r'<tr data-codec="01" data-offered="no">.*?</tr>', text)
    assert row and f"no live worker offers it; gpu0@host1 is missing {C1_MISSING}" in row[0]
    assert '<tr data-codec="91" data-offered="yes">' in text and "torch test" in text


def test_no_report_at_all_says_how_to_start_a_worker(client, admin):
    text = squash(client.get("/admin/codecs").text)
    assert 'id="no-worker-reports"' in text and "celery -A workers.celery_app worker" in text


def test_unusable_codecs_are_disabled_not_preselected_and_refused(
    client, admin, session, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(compression, "start_jobs", sent.extend)
    ids = fake_sources(session, 7)
    report_worker("gpu0@host1", missing=PAPER_MISSING)

    form = squash(client.get("/admin/compression").text)
    assert re.search(r'value="01" disabled> 01 C1 · [^<]*<span class="hint codec-missing">', form)
    assert f"(cannot run: no live worker offers it; gpu0@host1 is missing {C1_MISSING})" in form
    assert re.search(r'value="91" >', form)  # offered, and not ticked in advance
    assert "checked" not in re.search(r"<legend>Codecs.*?</fieldset>", form)[0]

    data = {"scope": "all", "codecs": ["01", "03", "91"], "settings": ["low", "high"]}
    refused = client.post("/admin/compression", data=data)
    assert refused.status_code == 409
    text = squash(refused.text)
    assert (
        "nothing queued: codec 01 (Hyperprior MSE (bmshj2018-hyperprior, CompressAI zoo)): no live "
        f"worker offers it; gpu0@host1 is missing {C1_MISSING}"
    ) in text
    assert "codec 03 (HiFiC): no live worker offers it" in text and "codec 91" not in text
    assert "All jobs have finished." not in text
    assert queued_nothing(session, sent)

    # The plan form starts with none of the paper's codecs ticked, each marked unoffered...
    plan_form = client.get("/admin/plans").text
    assert re.findall(r'name="codecs_[AB]" value="(\d\d)"\s+checked', plan_form) == []
    assert "(not offered: no live worker offers it; gpu0@host1 is missing" in squash(plan_form)
    # ...a plan may still name them (with a warning), but its compression is refused.
    saved = client.post("/admin/plans", data=PAPER_PLAN_FORM, follow_redirects=False)
    assert (
        "No+live+worker+offers+codec+01%2C+03%2C+05%2C+06%2C+02%2C+04+yet"
        in saved.headers["location"]
    )
    plan = session.exec(select(Plan)).one()
    page = squash(client.get(f"/admin/plans/{plan.id}").text)
    assert 'id="plan-codec-warnings"' in page and f"gpu0@host1 is missing {C1_MISSING}" in page
    started = client.post(f"/admin/plans/{plan.id}/compress", follow_redirects=False)
    assert started.status_code == 409
    assert "Nothing queued: codec 01 (Hyperprior MSE" in squash(started.text)
    assert queued_nothing(session, sent)

    # Once a worker offers them, the same requests queue their jobs.
    report_worker("gpu1@host2")
    assert client.post("/admin/compression", data=data, follow_redirects=False).status_code == 303
    assert len(sent) == len(ids) * 3 * 2
    assert plans.start_compression(session, plan, None) > 0


def test_the_preview_warns_about_codecs_no_worker_offers(client, admin, session):
    fake_sources(session, 8)
    report_worker("gpu0@host1", missing={"01": C1_MISSING, "03": PAPER_MISSING["03"]})
    preview = squash(
        client.post(
            "/admin/plans/preview", data=PAPER_PLAN_FORM, headers={"HX-Request": "true"}
        ).text
    )
    warnings = re.search(r'<ul class="warn" id="plan-codec-warnings">.*?</ul>', preview)[0]
    assert re.findall(r"<li>codec (\d\d) ", warnings) == ["01", "03"]
    assert "8 images → 64 reconstructions" in preview  # a warning, not a refusal


def test_a_retry_for_a_codec_no_worker_offers_is_refused(client, admin, session, monkeypatch):
    from backend.models import JobStatus

    sent: list[int] = []
    monkeypatch.setattr(compression, "start_jobs", sent.extend)
    [source] = fake_sources(session, 1)
    report_worker("gpu0@host1")
    [job_id] = compression.create_jobs(session, [source], [("01", "low")])  # type: ignore[list-item]
    job = session.get(CompressionJob, job_id)
    job.status, job.error = JobStatus.failed, "MissingWeightsError: bmshj2018"
    session.add(job)
    session.commit()
    report_worker("gpu0@host1", missing={"01": C1_MISSING})
    one = client.post(f"/admin/compression/jobs/{job_id}/retry", follow_redirects=False)
    assert "not+queued+again" in one.headers["location"]
    every = client.post("/admin/compression/retry-failed", follow_redirects=False)
    assert "0+failed+jobs+queued+again.+1+left+as+they+are" in every.headers["location"]
    session.expire_all()
    assert sent == [] and session.get(CompressionJob, job_id).status == JobStatus.failed
