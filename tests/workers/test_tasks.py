"""The compression pipeline: jobs in the database, run in-process and by real Celery workers."""

from __future__ import annotations

import fcntl
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from backend.models import CompressionJob, JobStatus, RateSetting, Reconstruction, SourceImage
from backend.services import compression
from backend.services.store import sha1_file, store_root
from tests.utils import factories
from tests.utils.factories import photo
from tests.workers.helpers import DEADLINE_S, Worker, wait_for

REPO = Path(__file__).resolve().parents[2]


def make_source(session: Session, name: str = "astronaut", size: int = 256) -> SourceImage:
    return factories.make_source(session, photo(name)[:size, :size], name, "tasks")


def job_rows(session: Session) -> list[CompressionJob]:
    session.expire_all()
    return list(session.exec(select(CompressionJob).order_by(CompressionJob.id)).all())


@pytest.fixture()
def sent(monkeypatch) -> list[tuple[object, ...]]:
    """Follow-up tasks the codec tasks send, recorded instead of run."""
    from workers import tasks

    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(tasks, "enqueue", lambda *args, **_: calls.append(args))
    return calls


def test_jpeg_control_job_in_process(session, sent):
    from workers.tasks import compress, make_tiles, measure

    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("91", RateSetting.low)])
    assert compress.run(job_id) == "done"
    job = job_rows(session)[0]
    assert sent == [("measure", job.reconstruction_id), ("make_tiles", job.reconstruction_id)]
    assert job.status == JobStatus.done and job.attempts == 1
    recon = session.get(Reconstruction, job.reconstruction_id)
    png = store_root() / recon.png_path
    assert recon.blind_name == sha1_file(png)
    assert png.parent.name == recon.blind_name[:2]
    assert abs(recon.bpp - 0.25) < 0.1
    # The metrics are the cpu queue's work, after the reconstruction is stored.
    assert recon.psnr is None and recon.ssim is None
    assert measure.run(recon.id) == "measured"
    session.refresh(recon)
    assert recon.psnr > 20 and 0 < recon.ssim <= 1
    assert measure.run(recon.id) == "measured already"
    assert measure.run(999_999) == "gone"
    assert recon.bitstream_bytes == (store_root() / recon.bitstream_path).stat().st_size
    assert recon.bpp == pytest.approx(8 * recon.bitstream_bytes / (256 * 256))
    # MS-SSIM needs sides over 160 px: a 256 px image has one, and says nothing is missing.
    assert recon.ms_ssim is not None
    assert make_tiles.run(recon.id) > 0
    assert make_tiles.run(recon.id) == 0  # every tile already there

    # Asking again creates no job; running the job again makes no second reconstruction.
    assert compression.create_jobs(session, [source.id], [("91", RateSetting.low)]) == []
    assert compress.run(job_id) == "done already"
    assert len(session.exec(select(Reconstruction)).all()) == 1


def test_a_reconstruction_that_cannot_be_measured_says_why(session, sent):
    from workers.tasks import compress, measure

    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("91", RateSetting.high)])
    assert compress.run(job_id) == "done"
    recon = session.exec(select(Reconstruction)).one()
    (store_root() / recon.png_path).write_bytes(b"not a png")
    assert measure.run(recon.id) == "failed"
    session.refresh(recon)
    assert recon.ssim is None and "not a readable PNG" in recon.metrics_error


def test_jobs_coded_as_a_batch(session, monkeypatch):
    from backend.core.config import get_settings
    from backend.services.tasks import drain_local_tasks
    from workers.tasks import compress_batch

    sources = [make_source(session, name) for name in ("astronaut", "coffee")]
    tiny = make_source(session, "rocket", size=40)
    ids = compression.create_jobs(session, [s.id for s in sources], [("90", RateSetting.low)])
    [tiny_job] = compression.create_jobs(session, [tiny.id], [("90", RateSetting.low)])
    assert compress_batch.run([*ids, tiny_job]) == ["done", "done", "failed"]
    jobs = {job.id: job for job in job_rows(session)}
    assert "ImageTooSmallError" in jobs[tiny_job].error
    recons = session.exec(select(Reconstruction).order_by(Reconstruction.id)).all()
    assert [r.params["batch"] for r in recons] == [2, 2]
    assert compress_batch.run(ids) == ["done already", "done already"]

    # Started with SCLIC_CODEC_BATCH=2, the jobs travel two to a message (in-process here).
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SCLIC_CODEC_BATCH", "2")
    get_settings.cache_clear()
    more = compression.create_jobs(session, [s.id for s in sources], [("90", RateSetting.high)])
    compression.start_jobs(more)
    drain_local_tasks()
    done = [job for job in job_rows(session) if job.id in more]
    assert [job.status for job in done] == [JobStatus.done, JobStatus.done]
    batched = [session.get(Reconstruction, job.reconstruction_id) for job in done]
    assert [r.params["batch"] for r in batched] == [2, 2]
    assert all(r.ssim is not None for r in batched)  # measured by the in-process cpu task

    # With SCLIC_CODEC_MODEL_BATCH=1 a message's images go through the model one at a time.
    monkeypatch.setenv("SCLIC_CODEC_MODEL_BATCH", "1")
    get_settings.cache_clear()
    others = [make_source(session, name) for name in ("chelsea", "rocket")]
    streamed = compression.create_jobs(session, [s.id for s in others], [("90", RateSetting.low)])
    compression.start_jobs(streamed)
    drain_local_tasks()
    done = [job for job in job_rows(session) if job.id in streamed]
    assert [job.status for job in done] == [JobStatus.done, JobStatus.done], done
    alone = [session.get(Reconstruction, job.reconstruction_id) for job in done]
    assert [r.params["batch"] for r in alone] == [1, 1]


def test_batch_messages_for_codecs_that_do_not_batch_become_single_jobs(session, monkeypatch):
    from backend.core.config import get_settings
    from backend.services.tasks import drain_local_tasks
    from workers.tasks import compress_batch

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    sources = [make_source(session, name) for name in ("astronaut", "coffee")]
    ids = compression.create_jobs(session, [s.id for s in sources], [("91", RateSetting.low)])
    assert compress_batch.run(ids) == ["sent alone", "sent alone"]
    drain_local_tasks()
    assert [job.status for job in job_rows(session)] == [JobStatus.done, JobStatus.done]


def test_a_stored_but_unmeasured_reconstruction_is_handed_on_again(session, monkeypatch):
    from backend.core.config import get_settings
    from backend.services.tasks import drain_local_tasks
    from workers.tasks import compress

    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("91", RateSetting.high)])
    with monkeypatch.context() as lost:
        # The worker dies before its follow-up tasks reach the broker.
        lost.setattr("workers.tasks.enqueue", lambda *args: None)
        assert compress.run(job_id) == "done"
    recon = session.exec(select(Reconstruction)).one()
    assert recon.ssim is None
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    assert compress.run(job_id) == "done already"
    drain_local_tasks()
    session.refresh(recon)
    assert recon.ssim is not None


def test_a_transient_failure_puts_every_unfinished_job_back(session, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from workers import tasks

    sources = [make_source(session, name) for name in ("astronaut", "coffee")]
    ids = compression.create_jobs(session, [s.id for s in sources], [("90", RateSetting.low)])

    def database_away(*args, **kwargs):
        raise OperationalError("INSERT", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(tasks.storing, "add_row", database_away)
    with pytest.raises(OperationalError):
        tasks.compress_batch.run(ids)
    assert [job.status for job in job_rows(session)] == [JobStatus.queued, JobStatus.queued]
    monkeypatch.undo()
    assert tasks.compress_batch.run(ids) == ["done", "done"]


def make_noise_source(session: Session, size: int = 64) -> SourceImage:
    """Noise that the JPEG control codes to the same bytes at its low and high setting: its
    quality search ends at the lowest quality for both rates."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return factories.make_source(session, pixels, "noise", "tasks")


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "in-one-batch"])
def test_identical_outputs_of_two_jobs_fail_the_second_with_a_reason(session, sent, together):
    """Defect (issue 11, 6.2): the second job's store failed on the blind name's UNIQUE
    constraint and the job stayed "running" forever."""
    from workers.tasks import compress, compress_batch

    source = make_noise_source(session)
    ids = compression.create_jobs(
        session, [source.id], [("91", RateSetting.low), ("91", RateSetting.high)]
    )
    if together:
        assert compress_batch.run(ids) == ["done", "failed"]
    else:
        assert [compress.run(job_id) for job_id in ids] == ["done", "failed"]
    low, high = job_rows(session)
    assert low.status == JobStatus.done and high.status == JobStatus.failed
    [recon] = session.exec(select(Reconstruction)).all()
    assert low.reconstruction_id == recon.id and high.reconstruction_id is None
    assert high.error.startswith("identical to the low setting's reconstruction (91L)")
    assert "same bytes" in high.error and recon.blind_name in high.error
    # The stored file is the first job's, whole, under its blind name.
    assert sha1_file(store_root() / recon.png_path) == recon.blind_name
    assert compress.run(high.id) == "failed"  # the same outcome again, never "running"
    assert job_rows(session)[1].status == JobStatus.failed


def test_no_fault_of_ours_leaves_a_job_running(session, sent, monkeypatch):
    """Whatever a job's coding raises, the job ends with the reason (issue 11, 6.2)."""
    from workers import tasks

    sources = [make_source(session, name) for name in ("astronaut", "coffee")]
    ids = compression.create_jobs(session, [s.id for s in sources], [("90", RateSetting.low)])
    real_add_row, calls = tasks.storing.add_row, []

    def first_fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("a bug in storing")
        return real_add_row(*args, **kwargs)

    monkeypatch.setattr(tasks.storing, "add_row", first_fails)
    assert tasks.compress_batch.run(ids) == ["failed", "done"]
    first, second = job_rows(session)
    assert first.status == JobStatus.failed and "RuntimeError: a bug in storing" in first.error
    assert second.status == JobStatus.done

    # Outside one job's result (starting the claimed jobs, say): every claimed job fails.
    more = compression.create_jobs(session, [s.id for s in sources], [("90", RateSetting.high)])

    def broken_start(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("a bug before coding")

    monkeypatch.setattr(tasks, "_start", broken_start)
    assert tasks.compress_batch.run(more) == ["failed", "failed"]
    for job in job_rows(session)[2:]:
        assert job.status == JobStatus.failed and "KeyError" in job.error


def test_a_job_claimed_by_a_live_worker_is_left_to_it(session, sent):
    """A second delivery while another worker's claim is fresh does not code the job."""
    from backend.services import claims
    from workers.tasks import compress

    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("91", RateSetting.low)])
    assert claims.claim(session, CompressionJob, job_id, "another-worker")
    assert compress.run(job_id) == "running elsewhere"
    if os.environ.get("REDIS_URL"):
        assert sent == [("compress", job_id)]  # to look again later
    job = job_rows(session)[0]
    assert job.status == JobStatus.running and job.claimed_by == "another-worker"
    assert session.exec(select(Reconstruction)).all() == []


def test_codec_errors_are_recorded_on_the_job(session, tmp_path, monkeypatch):
    from backend.core.config import get_settings
    from workers.tasks import compress

    monkeypatch.setenv("SCLIC_WEIGHTS_DIR", str(tmp_path / "empty-weights"))
    get_settings.cache_clear()
    source = make_source(session)
    tiny = make_source(session, "coffee", size=8)
    ids = compression.create_jobs(session, [source.id], [("01", RateSetting.low)])
    ids += compression.create_jobs(session, [tiny.id], [("90", RateSetting.low)])
    for job_id in ids:
        assert compress.run(job_id) == "failed"
    missing, too_small = job_rows(session)
    assert missing.status == JobStatus.failed and "bmshj2018-hyperprior" in missing.error
    assert too_small.status == JobStatus.failed and "small" in too_small.error.lower()
    assert session.exec(select(Reconstruction)).all() == []
    # The admin's retry runs a failed job again (in-process here: no REDIS_URL); a job that is
    # not failed is not retried.
    from backend.services.tasks import drain_local_tasks

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    assert compression.retry_job(session, missing.id) is True
    drain_local_tasks()
    missing = job_rows(session)[0]
    assert missing.status == JobStatus.failed and missing.attempts == 2
    missing.status = JobStatus.done
    session.add(missing)
    session.commit()
    assert compression.retry_job(session, missing.id) is False


def test_a_corrupt_checkpoint_and_a_crashing_program_are_recorded_on_the_job(
    session, tmp_path, monkeypatch, request
):
    from backend.core.config import get_settings
    from workers.codecs import pipeline
    from workers.tasks import compress

    weights = tmp_path / "weights"
    weights.mkdir()
    # The zoo's file name with bytes that do not hash to it: a download cut short.
    (weights / "bmshj2018-hyperprior-3-6d87be32.pth.tar").write_bytes(b"PK\x03\x04 cut short")
    jpegai = fake_jpegai(tmp_path / "jpegai")
    crash = "import sys\nsys.stderr.write('RuntimeError: CUDA out of memory\\n')\nsys.exit(3)\n"
    (jpegai / "src" / "reco" / "coders" / "encoder.py").write_text(crash)
    monkeypatch.setenv("SCLIC_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("SCLIC_JPEGAI_DIR", str(jpegai))
    monkeypatch.setenv("SCLIC_JPEGAI_PYTHON", sys.executable)
    get_settings.cache_clear()
    pipeline._codec.cache_clear()
    request.addfinalizer(pipeline._codec.cache_clear)
    source = make_source(session)
    ids = compression.create_jobs(
        session, [source.id], [("01", RateSetting.low), ("06", RateSetting.low)]
    )
    for job_id in ids:
        assert compress.run(job_id) == "failed"
    corrupt, crashed = job_rows(session)
    assert corrupt.status == JobStatus.failed
    assert "CorruptCheckpointError" in corrupt.error and "does not match" in corrupt.error
    assert crashed.status == JobStatus.failed and "ExternalProgramError" in crashed.error
    assert "status 3" in crashed.error and "CUDA out of memory" in crashed.error
    assert session.exec(select(Reconstruction)).all() == []


# --- real Celery workers -----------------------------------------------------------------

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
    reason="real workers need DATABASE_URL and REDIS_URL",
)

FAKE_ENCODER = textwrap.dedent(
    """
    import os, pathlib, sys, time
    data = pathlib.Path(sys.argv[1]).read_bytes()
    with open(sys.argv[2], "wb") as out:
        # Half the bitstream on disk, then the slow part: a kill now leaves a half-written file.
        out.write(data[: len(data) // 2])
        out.flush()
        # The slow part lasts until the test creates the file FAKE_JPEGAI_HOLD names (a
        # condition, not a duration, so a loaded machine cannot outrun it).
        hold = os.environ.get("FAKE_JPEGAI_HOLD")
        while hold and not os.path.exists(hold):
            time.sleep(0.05)
        out.write(data[len(data) // 2 :])
    """
)
FAKE_DECODER = "import shutil, sys\nshutil.copyfile(sys.argv[1], sys.argv[2])\n"


def fake_jpegai(root: Path) -> Path:
    """A stand-in with the reference software's layout and command line (it stores the PNG)."""
    coders = root / "src" / "reco" / "coders"
    coders.mkdir(parents=True)
    for package in (root / "src", root / "src" / "reco", coders):
        (package / "__init__.py").write_text("")
    (coders / "encoder.py").write_text(FAKE_ENCODER)
    (coders / "decoder.py").write_text(FAKE_DECODER)
    (root / "cfg" / "profiles").mkdir(parents=True)
    (root / "cfg" / "tools_off.json").write_text("{}")
    (root / "cfg" / "profiles" / "oper_pointhop.json").write_text("{}")
    return root


@pytest.fixture()
def redis_clean():
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture()
def worker_env(data_dir, tmp_path, redis_clean):
    env = os.environ.copy()
    (tmp_path / "worker-tmp").mkdir()
    env.update(
        TMPDIR=str(tmp_path / "worker-tmp"),
        SCLIC_DATA_DIR=str(data_dir),
        SCLIC_JPEGAI_DIR=str(fake_jpegai(tmp_path / "jpegai")),
        SCLIC_JPEGAI_PYTHON=sys.executable,
        SCLIC_TASK_VISIBILITY_TIMEOUT_S="4",
        SCLIC_TASK_RESTORE_INTERVAL_S="2",
        # A killed worker's claim goes stale after 10 s; a live one renews it every second.
        SCLIC_TASK_HEARTBEAT_S="1",
        SCLIC_TASK_STALE_AFTER_S="10",
        SCLIC_TASK_BUSY_RECHECK_S="2",
    )
    return env


@needs_redis
@pytest.mark.worker
def test_real_worker_runs_jobs_once_even_when_delivered_twice(session, worker_env, tmp_path):
    from workers.celery_app import celery_app

    source = make_source(session)
    ids = compression.create_jobs(
        session, [source.id], [("91", RateSetting.low), ("06", RateSetting.high)]
    )
    worker = Worker(worker_env, tmp_path / "worker.log")
    try:
        compression.start_jobs(ids)
        # A duplicate delivery of both jobs, in one batch message.
        celery_app.send_task("workers.tasks.compress_batch", args=[ids])
        wait_for(
            lambda: all(j.status == JobStatus.done for j in job_rows(session)),
            DEADLINE_S,
            "both jobs done",
            worker.log,
        )
        session.expire_all()
        recons = session.exec(select(Reconstruction)).all()
        assert sorted(r.codec_id for r in recons) == ["06", "91"]

        def measured() -> bool:
            session.expire_all()
            return all(r.ssim is not None for r in session.exec(select(Reconstruction)).all())

        # The cpu queue measured both after they were stored.
        wait_for(measured, DEADLINE_S, "metrics", worker.log)
        # Tiles were made by the cpu queue's task after the reconstruction was stored.
        wait_for(
            lambda: any((store_root().parent / "tiles").rglob("*.jpg")),
            DEADLINE_S,
            "tiles",
            worker.log,
        )
    finally:
        worker.stop()


@needs_redis
@pytest.mark.worker
def test_a_job_delivered_again_while_it_runs_is_not_coded_twice(session, worker_env, tmp_path):
    """The broker hands a message out again after its visibility timeout (4 s here) while the
    first delivery still runs (its encoder is held until the second delivery was seen); the
    second process leaves the job to the first."""
    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("06", RateSetting.low)])
    release = tmp_path / "release-encoder"
    env = {**worker_env, "FAKE_JPEGAI_HOLD": str(release), "SCLIC_TASK_BUSY_RECHECK_S": "2"}
    worker = Worker(env, tmp_path / "worker.log", concurrency=2)
    try:
        compression.start_jobs([job_id])
        wait_for(
            lambda: "running on another worker" in worker.log.read_text(),
            DEADLINE_S,
            "the second delivery",
            worker.log,
        )
        release.touch()
        wait_for(
            lambda: job_rows(session)[0].status == JobStatus.done,
            DEADLINE_S,
            "job done",
            worker.log,
        )
        # The look-again message finds the job done.
        wait_for(
            lambda: "'done already'" in worker.log.read_text(),
            DEADLINE_S,
            "the re-check",
            worker.log,
        )
    finally:
        release.touch()
        worker.stop()
    job = job_rows(session)[0]
    assert job.attempts == 1 and job.error is None
    assert len(session.exec(select(Reconstruction)).all()) == 1
    assert len(stored_files(".png")) == 1


def finish_on_a_new_worker(session: Session, env: dict[str, str], log: Path) -> None:
    """Start a worker and wait until the only job is done."""
    worker = Worker(env, log)
    try:
        wait_for(
            lambda: job_rows(session)[0].status == JobStatus.done,
            DEADLINE_S,
            "job done on the next worker",
            log,
        )
    finally:
        worker.stop()


def stored_files(suffix: str = "") -> list[Path]:
    folder = store_root() / "reconstructions"
    return sorted(p for p in folder.rglob(f"*{suffix}") if p.is_file()) if folder.exists() else []


@needs_redis
@pytest.mark.worker
def test_worker_killed_mid_job_loses_nothing(session, worker_env, tmp_path):
    """A worker SIGKILLed while its external encoder has written half a bitstream: nothing
    half-made reaches the store or the database; the next worker sweeps the dead one's work
    folder and codes the job again."""
    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("06", RateSetting.low)])
    release = tmp_path / "release-encoder"
    first = Worker({**worker_env, "FAKE_JPEGAI_HOLD": str(release)}, tmp_path / "first.log")
    workdirs = tmp_path / "worker-tmp"

    def half_written() -> list[Path]:
        # Bytes on disk, not just the file opened: the program opens it, then writes.
        return [
            p
            for p in workdirs.glob(".sclic-*.tmp/*")
            if p.suffix != ".png" and p.stat().st_size > 0
        ]

    try:
        try:
            compression.start_jobs([job_id])
            wait_for(half_written, DEADLINE_S, "the encoder's first half", first.log)
            first.kill()
        finally:
            first.stop()
        # The kill landed mid-write: half a bitstream in the program's work folder, nothing in
        # the store and no reconstruction row. (The program runs in a session of its own and
        # outlives the worker; it is held until the end of the test and holds no lock.)
        [partial] = half_written()
        [program_input] = partial.parent.glob("*.png")
        assert 0 < partial.stat().st_size < program_input.stat().st_size
        assert session.exec(select(Reconstruction)).all() == []
        assert stored_files() == []
        assert not held_by_anyone(partial.parent), "the dead worker's folder is still locked"
        finish_on_a_new_worker(session, worker_env, tmp_path / "second.log")
        job = job_rows(session)[0]
        assert job.attempts == 2
        [recon] = session.exec(select(Reconstruction)).all()
        # The next worker swept the dead one's work folder; the stored files are whole.
        assert not partial.parent.exists() and list(workdirs.glob(".sclic-*.tmp")) == []
        assert sha1_file(store_root() / recon.png_path) == recon.blind_name
        assert (store_root() / recon.bitstream_path).stat().st_size == recon.bitstream_bytes
    finally:
        release.touch()  # the orphaned program finishes and exits


def held_by_anyone(path: Path) -> bool:
    """Whether some process holds the ``flock`` on ``path`` that keeps the sweep away."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@needs_redis
@pytest.mark.worker
def test_worker_killed_while_storing_leaves_no_file_under_a_blind_name(
    session, worker_env, tmp_path
):
    source = make_source(session)
    [job_id] = compression.create_jobs(session, [source.id], [("91", RateSetting.low)])
    held_disk = {
        **worker_env,
        "PYTHONPATH": str(REPO / "tests" / "workers" / "faults"),
        # Never created: the worker is killed while it waits to flush the file.
        "SCLIC_TEST_FSYNC_HOLD": str(tmp_path / "release-fsync"),
    }
    first = Worker(held_disk, tmp_path / "first.log")
    try:
        compression.start_jobs([job_id])
        wait_for(
            lambda: stored_files(".tmp"), DEADLINE_S, "the reconstruction being written", first.log
        )
        first.kill()
    finally:
        first.stop()
    [temporary] = stored_files()
    assert temporary.name.startswith(".sclic-") and temporary.suffix == ".tmp"
    assert session.exec(select(Reconstruction)).all() == []
    finish_on_a_new_worker(session, worker_env, tmp_path / "second.log")
    [recon] = session.exec(select(Reconstruction)).all()
    assert stored_files(".tmp") == []
    assert [p.name for p in stored_files()] == sorted(
        [f"{recon.blind_name}.png", f"{recon.blind_name}.sclc"]
    )
    assert sha1_file(store_root() / recon.png_path) == recon.blind_name


@needs_redis
@pytest.mark.worker
def test_ingest_runs_on_the_cpu_queue_and_a_killed_workers_run_is_finished(
    session, worker_env, tmp_path
):
    """The ingest task on a real worker, killed part-way through: the broker delivers it again,
    the next worker takes the run over once its claim is stale, and every file is there once."""
    from backend.models import IngestFile, IngestRun
    from backend.services import ingest_db, ingest_runs
    from tests.services.test_ingest_db import stored_files as store_files
    from tests.services.test_ingest_db import write_corpus

    folder = tmp_path / "incoming"
    write_corpus(folder)
    run = ingest_runs.create_run(
        session,
        ingest_db.dataset_for(session, "killed", None),
        kind="folder",
        source=str(folder),
        options=ingest_db.IngestOptions(),
        user_id=None,
    )

    def current() -> IngestRun:
        session.expire_all()
        return session.get(IngestRun, run.id)

    held = {
        **worker_env,
        "PYTHONPATH": str(REPO / "tests" / "workers" / "faults"),
        # Never created: the worker is killed while it waits before the third file.
        "SCLIC_TEST_INGEST_HOLD": str(tmp_path / "release-ingest"),
        "SCLIC_TEST_INGEST_HOLD_AFTER": "2",
    }
    first = Worker(held, tmp_path / "first.log")
    try:
        ingest_runs.start_run(run.id)  # REDIS_URL is set: to the cpu queue
        wait_for(lambda: current().processed >= 2, DEADLINE_S, "two files ingested", first.log)
        first.kill()
    finally:
        first.stop()
    left = current()
    assert left.status == JobStatus.running and left.processed < left.total == 11
    second = Worker(worker_env, tmp_path / "second.log")
    try:
        wait_for(
            lambda: current().status == JobStatus.done, DEADLINE_S, "the run finished", second.log
        )
    finally:
        second.stop()
    done = current()
    assert (done.total, done.processed, done.taken, done.refused) == (11, 11, 3, 8)
    entries = session.exec(select(IngestFile.entry).where(IngestFile.run_id == run.id)).all()
    assert len(entries) == len(set(entries)) == 11
    assert len(session.exec(select(SourceImage)).all()) == 3
    assert len(store_files()) == 6
