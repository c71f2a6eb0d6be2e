"""A coded job's result as its reconstruction row: one reconstruction per blind name, whose
files on disk are its own."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import select

from backend.models import CompressionJob, JobStatus, RateSetting, Reconstruction
from backend.services import compression
from backend.services.store import sha1_file, store_root
from tests.utils import factories
from tests.utils.factories import photo


def grey_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reconstruction the same flat grey, whatever its bitstream: two settings with two
    bitstreams give byte-identical PNGs (a real codec does so on noise, from equal bitstreams
    there)."""
    from workers.codecs import pipeline

    real_code = pipeline._code

    def code(*args, **kwargs):  # type: ignore[no-untyped-def]
        coded = real_code(*args, **kwargs)
        coded.pairs = [(result, np.full_like(recon, 128)) for result, recon in coded.pairs]
        return coded

    monkeypatch.setattr(pipeline, "_code", code)


def test_a_duplicate_output_leaves_the_first_reconstructions_files_as_they_were(
    session, monkeypatch
):
    """The high job's pixels are the low job's, its bitstream is not: the high job fails
    (issue 11, 6.2) and the low reconstruction's bitstream on disk is still the low one's."""
    from workers import tasks

    monkeypatch.setattr(tasks, "enqueue", lambda *args, **_: None)  # no measuring or tiles here
    grey_decodes(monkeypatch)
    source = factories.make_source(session, photo("astronaut")[:64, :64], "grey", "storing")
    low_id, high_id = compression.create_jobs(
        session, [source.id], [("90", RateSetting.low), ("90", RateSetting.high)]
    )
    assert tasks.compress.run(low_id) == "done"
    [recon] = session.exec(select(Reconstruction)).all()
    bitstream = (store_root() / recon.bitstream_path).read_bytes()
    assert len(bitstream) == recon.bitstream_bytes

    assert tasks.compress.run(high_id) == "failed"
    session.expire_all()
    high = session.get(CompressionJob, high_id)
    assert high.status == JobStatus.failed and high.error.startswith("identical to the low")
    assert (store_root() / recon.bitstream_path).read_bytes() == bitstream
    assert sha1_file(store_root() / recon.png_path) == recon.blind_name
    assert len(session.exec(select(Reconstruction)).all()) == 1
