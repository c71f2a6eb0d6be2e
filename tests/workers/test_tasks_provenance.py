"""A reconstruction's row records what made it: machine, libraries and the weights' SHA-256."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.models import CompressionJob, RateSetting, Reconstruction
from backend.services import compression
from tests.utils import factories
from tests.utils.factories import photo
from workers.codecs.checkpoints import sha256_file
from workers.codecs.registry import DEMO_WEIGHTS_DIR


@pytest.fixture()
def no_follow_ups(monkeypatch) -> None:
    from workers import tasks

    monkeypatch.setattr(tasks, "enqueue", lambda *args: None)


@pytest.mark.usefixtures("no_follow_ups")
def test_a_coded_image_records_its_machine_and_weights(session) -> None:
    from workers.codecs.provenance import hardware
    from workers.tasks import compress

    source = factories.make_source(session, photo("astronaut")[:192, :256], "astronaut", "p")
    [job_id] = compression.create_jobs(session, [source.id], [("90", RateSetting.high)])
    assert compress.run(job_id) == "done"
    job = session.exec(select(CompressionJob)).one()
    recon = session.get(Reconstruction, job.reconstruction_id)
    session.refresh(recon)
    [weights] = sorted(DEMO_WEIGHTS_DIR.glob("sclic-demo-hyperprior-2-*.pth.tar"))
    assert recon.weights_sha256 == sha256_file(weights)
    assert recon.hardware == hardware("cpu") and recon.device == "cpu"
    made = recon.provenance
    assert made["weights_file"] == weights.name and made["weights_sha256"] == recon.weights_sha256
    assert (made["codec_id"], made["setting"], made["level"]) == ("90", "high", 2)
    assert made["versions"]["torch"] and made["versions"]["compressai"]
    assert made["torch_threads"] >= 1 and made["machine"]
    assert isinstance(made["cpu_features"], list) and made["header_version"] == 1
