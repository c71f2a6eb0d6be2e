"""Which codecs the workers can run, as they report it, and refusing work that none can run.

The web host has no GPU and no weights, so it cannot know what a codec needs. Each worker
writes a report (:class:`WorkerSnapshot`) at start and then every ``worker_report_interval_s``;
a report older than ``worker_report_stale_s``, or one its worker marked stopped, is *gone*. A
codec is *offered* when a live worker that takes the ``gpu`` queue can run it. The admin's
codec, plan and compression pages read this, and compression for a codec that no live worker
offers is refused before anything is queued, naming what is missing where.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from backend.core.config import get_settings
from backend.models import WorkerCodec, WorkerReport, utcnow
from backend.plans.halves import CODEC_SETS
from backend.services.tasks import queue_of

CODEC_QUEUE = queue_of("compress")
# The paper's C1–C6 (section 3.1) are ids 01–06; a plan may name them before any worker says
# it can run them.
PAPER_CODECS: tuple[str, ...] = tuple(sorted({c for codecs in CODEC_SETS.values() for c in codecs}))
# Reports of workers gone this long are dropped when another report is written.
KEEP_GONE = timedelta(days=7)


@dataclass(frozen=True)
class CodecCapability:
    """One codec as a worker sees it: its registry entry and whether it can run there."""

    codec_id: str
    name: str
    family: str = ""
    paper: str = ""
    low: str = ""
    high: str = ""
    available: bool = False
    missing: str = ""


@dataclass(frozen=True)
class WorkerSnapshot:
    """What a worker writes about itself: name, queues, device, versions and its codecs."""

    worker: str
    queues: tuple[str, ...]
    device: str
    versions: Mapping[str, str]
    codecs: tuple[CodecCapability, ...]


@dataclass(frozen=True)
class WorkerStatus(WorkerSnapshot):
    """A stored report as the pages show it, with its age and whether its worker is live."""

    started_at: datetime
    reported_at: datetime
    stopped_at: datetime | None
    age_s: float
    live: bool

    @property
    def runs_codecs(self) -> bool:
        return CODEC_QUEUE in self.queues


@dataclass(frozen=True)
class CodecOffer:
    """One codec across the workers: who can run it now, and what the others lack."""

    codec_id: str
    name: str
    paper: str
    family: str
    low: str
    high: str
    offered_by: tuple[str, ...]
    missing: tuple[tuple[str, str], ...] = field(default=())  # (worker, what it lacks)

    @property
    def offered(self) -> bool:
        return bool(self.offered_by)

    @property
    def label(self) -> str:
        return f"{self.codec_id} {self.paper}".strip()

    @property
    def reason(self) -> str:
        """Why no live worker offers it, in one sentence ("" when one does)."""
        if self.offered:
            return ""
        if not self.missing:
            return f"no live worker offers it; no live worker takes the {CODEC_QUEUE} queue"
        lacks = "; ".join(f"{worker} is missing {what}" for worker, what in self.missing)
        return f"no live worker offers it; {lacks}"


class CodecNotOfferedError(ValueError):
    """Work was asked for codecs that no live worker can run; nothing was queued."""

    def __init__(self, offers: Collection[CodecOffer]) -> None:
        self.offers = tuple(offers)
        super().__init__(
            "; ".join(f"codec {o.codec_id} ({o.name}): {o.reason}" for o in self.offers)
        )


# --- the workers' side: writing --------------------------------------------------------------


def record(session: Session, snapshot: WorkerSnapshot) -> None:
    """Write (or refresh) one worker's report in one transaction."""
    now = utcnow()
    query = select(WorkerReport).where(WorkerReport.worker == snapshot.worker)
    report = session.exec(query).first()
    # A worker that stopped (or never reported) starts afresh; a running one keeps its start.
    started = now if report is None or report.stopped_at is not None else report.started_at
    if report is None:
        report = WorkerReport(worker=snapshot.worker)
    report.queues = list(snapshot.queues)
    report.device = snapshot.device
    report.versions = dict(snapshot.versions)
    report.started_at = started
    report.reported_at = now
    report.stopped_at = None
    session.add(report)
    session.flush()
    session.execute(delete(WorkerCodec).where(col(WorkerCodec.report_id) == report.id))
    session.add_all(
        WorkerCodec(
            report_id=report.id,  # type: ignore[arg-type]
            codec_id=c.codec_id,
            name=c.name,
            family=c.family,
            paper=c.paper,
            low=c.low,
            high=c.high,
            available=c.available,
            missing=c.missing,
        )
        for c in snapshot.codecs
    )
    old = [
        i
        for i in session.exec(
            select(WorkerReport.id).where(col(WorkerReport.reported_at) < now - KEEP_GONE)
        ).all()
        if i is not None
    ]
    if old:
        session.execute(delete(WorkerCodec).where(col(WorkerCodec.report_id).in_(old)))
        session.execute(delete(WorkerReport).where(col(WorkerReport.id).in_(old)))
    session.commit()


def mark_stopped(session: Session, worker: str) -> None:
    """A worker stopping gracefully says so at once rather than going stale."""
    report = session.exec(select(WorkerReport).where(WorkerReport.worker == worker)).first()
    if report is not None:
        report.stopped_at = utcnow()
        session.add(report)
        session.commit()


# --- the web side: reading -------------------------------------------------------------------


def workers(session: Session, now: datetime | None = None) -> list[WorkerStatus]:
    """Every stored report, live ones first, each with its age."""
    now = now or utcnow()
    stale_s = get_settings().worker_report_stale_s
    reports = session.exec(select(WorkerReport).order_by(col(WorkerReport.worker))).all()
    codecs: dict[int, list[CodecCapability]] = {}
    for row in session.exec(select(WorkerCodec).order_by(col(WorkerCodec.codec_id))).all():
        codecs.setdefault(row.report_id, []).append(
            CodecCapability(
                codec_id=row.codec_id,
                name=row.name,
                family=row.family,
                paper=row.paper,
                low=row.low,
                high=row.high,
                available=row.available,
                missing=row.missing,
            )
        )
    out = []
    for report in reports:
        age = max(0.0, (now - report.reported_at).total_seconds())
        out.append(
            WorkerStatus(
                worker=report.worker,
                queues=tuple(report.queues or ()),
                device=report.device,
                versions=dict(report.versions or {}),
                codecs=tuple(codecs.get(report.id or 0, ())),
                started_at=report.started_at,
                reported_at=report.reported_at,
                stopped_at=report.stopped_at,
                age_s=age,
                live=report.stopped_at is None and age <= stale_s,
            )
        )
    return sorted(out, key=lambda w: (not w.live, w.worker))


def codec_offers(session: Session, now: datetime | None = None) -> dict[str, CodecOffer]:
    """Every codec known to the platform (the paper's and any a worker reported), by id, with
    the live codec workers that can run it and what each of the others lacks."""
    everyone = workers(session, now)
    live = [w for w in everyone if w.live and w.runs_codecs]
    known: dict[str, CodecCapability] = {}
    for status in everyone:
        for codec in status.codecs:
            known.setdefault(codec.codec_id, codec)
    offers: dict[str, CodecOffer] = {}
    for codec_id in sorted(set(known) | set(PAPER_CODECS)):
        entry = known.get(codec_id) or CodecCapability(
            codec_id, "not reported by any worker", paper=f"C{int(codec_id)}"
        )
        by: list[str] = []
        lacks: list[tuple[str, str]] = []
        for status in live:
            mine = next((c for c in status.codecs if c.codec_id == codec_id), None)
            if mine is not None and mine.available:
                by.append(status.worker)
            else:
                lacks.append((status.worker, mine.missing if mine else "this codec (unknown here)"))
        offers[codec_id] = CodecOffer(
            codec_id=codec_id,
            name=entry.name,
            paper=entry.paper,
            family=entry.family,
            low=entry.low,
            high=entry.high,
            offered_by=tuple(by),
            missing=tuple(lacks),
        )
    return offers


def unoffered(session: Session, codec_ids: Iterable[str]) -> list[CodecOffer]:
    """The codecs of ``codec_ids`` that no live worker offers (unknown ids included)."""
    offers = codec_offers(session)
    out = []
    for codec_id in dict.fromkeys(codec_ids):
        offer = offers.get(codec_id) or CodecOffer(codec_id, "unknown codec", "", "", "", "", ())
        if not offer.offered:
            out.append(offer)
    return out


def require_offered(session: Session, codec_ids: Iterable[str]) -> None:
    """Raise :class:`CodecNotOfferedError` naming every codec of ``codec_ids`` that no live
    worker can run, and what each live worker lacks for it."""
    missing = unoffered(session, codec_ids)
    if missing:
        raise CodecNotOfferedError(missing)
