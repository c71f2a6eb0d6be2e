"""Ingest runs started from the admin pages: background tasks that survive a restart.

A run is queued as the task ``ingest`` (on the ``cpu`` queue with Redis, in-process when
embedded) and keeps one :class:`~backend.models.IngestFile` per file done, committed with the
file's source row, plus counts that the progress widget polls. A worker claims the run and keeps
a heartbeat on it (:mod:`backend.services.claims`), so a run whose web process or worker stopped
shows as interrupted, and resuming it (or the broker delivering it again) goes on with the files
not done yet: no file is stored twice and no report line is written twice.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from backend.core.config import get_settings
from backend.core.db import get_engine
from backend.ingest.report import IngestReport, ReportLine, line_for
from backend.ingest.validate import Rejection
from backend.models import IngestFile, IngestRun, JobStatus, SourceDataset, utcnow
from backend.services import claims
from backend.services.ingest_db import (
    IngestOptions,
    check_folder,
    folder_files,
    ingest_one,
    known_hashes,
    prepare_options,
)
from backend.services.tasks import enqueue

log = logging.getLogger("sclic.ingest")


class ClaimLost(RuntimeError):
    """Another worker took the run over (this one's heartbeat had gone stale)."""


def staging_dir(run_id: int) -> Path:
    """Where uploaded files wait for their run; removed when the run ends."""
    return get_settings().data_dir / "incoming" / str(run_id)


def create_run(
    session: Session,
    dataset: SourceDataset,
    *,
    kind: str,
    source: str,
    options: IngestOptions,
    user_id: int | None,
    uploads: list[tuple[str, str]] | None = None,
) -> IngestRun:
    """A queued run. ``uploads`` lists ``(staged file name, uploaded name)`` for uploads."""
    run = IngestRun(
        dataset_id=dataset.id,  # type: ignore[arg-type]
        kind=kind,
        source=source[:1024],
        options={**options.to_dict(), "uploads": uploads or []},
        total=len(uploads or []),
        created_by=user_id,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def start_run(run_id: int) -> None:
    """Queue the run's task (after the commit that made the run)."""
    enqueue("ingest", run_id)


def is_interrupted(run: IngestRun) -> bool:
    """Queued or running, but no worker has said so for ``task_stale_after_s``."""
    return claims.is_stale(run)


def resume_run(session: Session, run_id: int) -> bool:
    """Queue an interrupted run again; False when it is not interrupted (or gone). The old
    claim is dropped, so a worker that was only paused stops at its next file."""
    run = session.get(IngestRun, run_id)
    if run is None or not is_interrupted(run):
        return False
    run.status, run.claimed_by, run.error = JobStatus.queued, None, None
    run.updated_at = utcnow()
    session.add(run)
    session.commit()
    start_run(run_id)
    return True


def _run_files(run: IngestRun) -> list[tuple[str, str, Path]]:
    """``(entry, name in the report, path)`` of every file of the run, in order."""
    options = IngestOptions.from_dict(run.options)
    if run.kind == "upload":
        folder = staging_dir(run.id)  # type: ignore[arg-type]
        return [(staged, name, folder / staged) for staged, name in run.options.get("uploads", [])]
    found = folder_files(check_folder(run.source), options.recursive)
    return [(name, name, path) for name, path in found]


def execute_run(run_id: int) -> str:
    """Do the work of run ``run_id``: the files it has not done yet. Safe to call again and
    from a second delivery; returns what became of it (``"done"``, ``"done already"``,
    ``"running elsewhere"``, ``"taken over"``, ``"failed"`` or ``"gone"``)."""
    token = claims.worker_token()
    with Session(get_engine(), expire_on_commit=False) as session:
        run = session.get(IngestRun, run_id)
        if run is None:
            return "gone"
        if run.status == JobStatus.done:
            return "done already"
        if not claims.claim(session, IngestRun, run_id, token):
            return "running elsewhere"
        run = session.get(IngestRun, run_id, populate_existing=True)
        assert run is not None
        ended = True
        try:
            with claims.heartbeat(IngestRun, [run_id], token):
                _execute(session, run, token)
            return "done"
        except ClaimLost:
            ended = False
            log.warning("ingest run %s was taken over by another worker", run_id)
            return "taken over"
        except Exception as exc:
            log.exception("ingest run %s failed", run_id)
            session.rollback()
            session.execute(
                update(IngestRun)
                .where(col(IngestRun.id) == run_id, col(IngestRun.claimed_by) == token)
                .values(
                    status=JobStatus.failed,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    finished_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
            session.commit()
            return "failed"
        finally:
            if ended and run.kind == "upload":
                shutil.rmtree(staging_dir(run_id), ignore_errors=True)


def _execute(session: Session, run: IngestRun, token: str) -> None:
    run_id: int = run.id  # type: ignore[assignment]
    dataset = session.get(SourceDataset, run.dataset_id)
    assert dataset is not None
    options = prepare_options(dataset, IngestOptions.from_dict(run.options))
    files = _run_files(run)
    done = set(session.exec(select(IngestFile.entry).where(IngestFile.run_id == run_id)).all())
    counts = dict(
        session.exec(
            select(IngestFile.taken, func.count())
            .where(IngestFile.run_id == run_id)
            .group_by(IngestFile.taken)  # type: ignore[arg-type]
        ).all()
    )
    _update(
        session,
        run_id,
        token,
        total=len(files),
        processed=len(done),
        taken=counts.get(True, 0),
        refused=counts.get(False, 0),
        error=None,
    )
    seen = known_hashes(session)
    for entry, name, path in files:
        if entry in done:
            continue

        def record(line: ReportLine, entry: str = entry) -> list[IngestFile]:
            return [_file_row(run_id, entry, line)]

        outcome = ingest_one(session, dataset, name, path, options, seen, record=record)
        taken = not isinstance(outcome, Rejection)
        if not taken:
            session.add_all(record(line_for(name, outcome)))
        _update(
            session,
            run_id,
            token,
            processed=col(IngestRun.processed) + 1,
            taken=col(IngestRun.taken) + int(taken),
            refused=col(IngestRun.refused) + int(not taken),
        )
    _update(session, run_id, token, status=JobStatus.done, finished_at=utcnow())


def _update(session: Session, run_id: int, token: str, **values: object) -> None:
    """Write ``values`` (and the heartbeat) to the run while this worker holds it; commits
    what the session holds with it (a refused file's line)."""
    now = utcnow()
    result = session.execute(
        update(IngestRun)
        .where(col(IngestRun.id) == run_id, col(IngestRun.claimed_by) == token)
        .values(**values, heartbeat_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ClaimLost(f"ingest run {run_id}")
    session.commit()


def _file_row(run_id: int, entry: str, line: ReportLine) -> IngestFile:
    return IngestFile(
        run_id=run_id,
        entry=entry[:1024],
        source=line.source[:1024],
        taken=line.taken,
        reason_code=line.reason_code,
        message=line.message,
        sha256=line.sha256,
        width=line.width,
        height=line.height,
        notes=list(line.notes),
    )


def recent_runs(session: Session, limit: int = 20) -> list[tuple[IngestRun, str]]:
    """The latest runs with their dataset names, newest first."""
    rows = session.exec(
        select(IngestRun, SourceDataset.name)
        .join(SourceDataset, SourceDataset.id == IngestRun.dataset_id)  # type: ignore[arg-type]
        .order_by(col(IngestRun.id).desc())
        .limit(limit)
    ).all()
    return [(run, name) for run, name in rows]


def report_of(session: Session, run_id: int) -> IngestReport:
    """The run's report: one line per file done so far, in the order they were done."""
    rows = session.exec(
        select(IngestFile).where(IngestFile.run_id == run_id).order_by(col(IngestFile.id))
    ).all()
    return IngestReport(
        lines=[
            ReportLine(
                source=row.source,
                taken=row.taken,
                reason_code=row.reason_code,
                message=row.message,
                sha256=row.sha256,
                width=row.width,
                height=row.height,
                notes=tuple(row.notes or ()),
            )
            for row in rows
        ]
    )
