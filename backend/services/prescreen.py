"""Prescreening: raters judge each prepared image independently before anything is compressed.

Paper, section 3.1: images that contained none of the listed kinds of content (humans or their
depictions, symbols and signs, vehicles, buildings and other human-made structures, reflections
and shadows), or that showed large close objects without small details, were excluded; "912
images that were rated to be (borderline) excluded, by *both* researchers independently, were
removed." Here every rater gives include, borderline or exclude; an image is removed (status
``excluded``) once at least two raters rated it and every one of them said borderline or
exclude, and it comes back when a further rater includes it.

Agreement between raters is reported as percent agreement, Cohen's κ per pair and Fleiss' κ
over the images every rater saw, both on the three ratings and on the keep/remove decision the
rule actually takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.agreement import cohen_kappa, fleiss_kappa
from backend.models import (
    PrescreenRating,
    PrescreenVote,
    SourceDataset,
    SourceImage,
    SourceStatus,
    User,
    utcnow,
)

CRITERIA: tuple[str, ...] = (
    "humans or depictions of humans (statues, drawings)",
    "symbols and signs (text; religious, cultural, traffic signs)",
    "vehicles",
    "buildings",
    "other human-made structures (fences, patterns, cables)",
    "discernible reflections and shadows of objects",
)
EXCLUDE_ALSO = "large, close objects without any small details"
RATINGS: tuple[PrescreenRating, ...] = (
    PrescreenRating.include,
    PrescreenRating.borderline,
    PrescreenRating.exclude,
)
REMOVING = frozenset({PrescreenRating.borderline, PrescreenRating.exclude})
MIN_RATERS = 2
# Images a rater may still see: prescreening never touches anonymised images.
SCREENABLE = (SourceStatus.prepared, SourceStatus.excluded)


class PrescreenError(ValueError):
    pass


def removed_by(ratings: Sequence[PrescreenRating]) -> bool:
    """The paper's rule: at least two raters, all of them borderline or exclude."""
    return len(ratings) >= MIN_RATERS and all(r in REMOVING for r in ratings)


def next_image(session: Session, rater_id: int, after_id: int = 0) -> SourceImage | None:
    """The first screenable image (by id, after ``after_id``) the rater has not rated yet."""
    mine = select(PrescreenVote.source_image_id).where(PrescreenVote.rater_id == rater_id)
    return session.exec(
        select(SourceImage)
        .where(
            col(SourceImage.status).in_(SCREENABLE),
            col(SourceImage.id) > after_id,
            col(SourceImage.id).not_in(mine),
        )
        .order_by(col(SourceImage.id))
        .limit(1)
    ).first()


def screenable(session: Session, source_id: int) -> SourceImage | None:
    image = session.get(SourceImage, source_id)
    if image is None or image.status not in SCREENABLE:
        return None
    return image


def my_rating(session: Session, rater_id: int, source_id: int) -> PrescreenRating | None:
    vote = session.exec(
        select(PrescreenVote).where(
            PrescreenVote.rater_id == rater_id, PrescreenVote.source_image_id == source_id
        )
    ).first()
    return None if vote is None else PrescreenRating(vote.rating)


def dataset_name(session: Session, image: SourceImage) -> str:
    dataset = session.get(SourceDataset, image.dataset_id)
    return dataset.name if dataset else ""


def vote(session: Session, rater: User, source_id: int, rating: PrescreenRating) -> SourceStatus:
    """Record (or change) ``rater``'s rating and apply the removal rule; returns the status."""
    image = screenable(session, source_id)
    if image is None:
        raise PrescreenError(f"no image #{source_id} to prescreen")
    existing = session.exec(
        select(PrescreenVote).where(
            PrescreenVote.rater_id == rater.id, PrescreenVote.source_image_id == source_id
        )
    ).first()
    if existing is None:
        session.add(PrescreenVote(source_image_id=source_id, rater_id=rater.id, rating=rating))  # type: ignore[arg-type]
        try:
            session.flush()
        except IntegrityError:
            # The same rater's other tab voted at the same moment: keep this later choice.
            session.rollback()
            return vote(session, rater, source_id, rating)
    else:
        existing.rating = rating
        existing.created_at = utcnow()
        session.add(existing)
        session.flush()
    ratings = [
        PrescreenRating(r)
        for r in session.exec(
            select(PrescreenVote.rating).where(PrescreenVote.source_image_id == source_id)
        ).all()
    ]
    image.status = SourceStatus.excluded if removed_by(ratings) else SourceStatus.prepared
    session.add(image)
    session.commit()
    return image.status


@dataclass(frozen=True, slots=True)
class RaterProgress:
    username: str
    rated: int
    include: int
    borderline: int
    exclude: int


@dataclass(frozen=True, slots=True)
class Overview:
    screenable: int
    prepared: int
    excluded: int
    mine: int
    raters: list[RaterProgress]


def overview(session: Session, rater_id: int) -> Overview:
    """Counts for the page head: how many images, how many removed, how far each rater got."""
    by_status = dict(
        session.exec(
            select(SourceImage.status, func.count())
            .where(col(SourceImage.status).in_(SCREENABLE))
            .group_by(SourceImage.status)
        ).all()
    )
    counts = {SourceStatus(k): int(v) for k, v in by_status.items()}
    rows = session.exec(
        select(User.username, PrescreenVote.rating, func.count())
        .join(User, User.id == PrescreenVote.rater_id)  # type: ignore[arg-type]
        .join(SourceImage, SourceImage.id == PrescreenVote.source_image_id)  # type: ignore[arg-type]
        .where(col(SourceImage.status).in_(SCREENABLE))
        .group_by(User.username, PrescreenVote.rating)
    ).all()
    per: dict[str, dict[PrescreenRating, int]] = {}
    for username, rating, n in rows:
        per.setdefault(username, {})[PrescreenRating(rating)] = int(n)
    raters = [
        RaterProgress(
            name,
            sum(c.values()),
            c.get(PrescreenRating.include, 0),
            c.get(PrescreenRating.borderline, 0),
            c.get(PrescreenRating.exclude, 0),
        )
        for name, c in sorted(per.items())
    ]
    mine = session.exec(
        select(func.count())
        .select_from(PrescreenVote)
        .join(SourceImage, SourceImage.id == PrescreenVote.source_image_id)  # type: ignore[arg-type]
        .where(PrescreenVote.rater_id == rater_id, col(SourceImage.status).in_(SCREENABLE))
    ).one()
    prepared = counts.get(SourceStatus.prepared, 0)
    excluded = counts.get(SourceStatus.excluded, 0)
    return Overview(prepared + excluded, prepared, excluded, int(mine), raters)


# --- agreement ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairAgreement:
    rater_a: str
    rater_b: str
    items: int
    percent: float | None
    kappa: float | None


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement on one scale: ``scale`` is "ratings" (three values) or "decision" (keep/remove)."""

    scale: str
    raters: list[str]
    items_all: int
    percent_all: float | None
    fleiss: float | None
    pairs: list[PairAgreement]


def _matrix(session: Session) -> tuple[list[str], np.ndarray]:
    """Items × raters codes (0 include, 1 borderline, 2 exclude, -1 not rated) for images rated
    by at least two raters."""
    rows = session.exec(
        select(PrescreenVote.source_image_id, User.username, PrescreenVote.rating)
        .join(User, User.id == PrescreenVote.rater_id)  # type: ignore[arg-type]
        .join(SourceImage, SourceImage.id == PrescreenVote.source_image_id)  # type: ignore[arg-type]
        .where(col(SourceImage.status).in_(SCREENABLE))
    ).all()
    raters = sorted({username for _, username, _ in rows})
    items = sorted({source_id for source_id, _, _ in rows})
    rater_index = {name: i for i, name in enumerate(raters)}
    item_index = {source_id: i for i, source_id in enumerate(items)}
    codes = np.full((len(items), len(raters)), -1, dtype=np.int64)
    code = {rating: i for i, rating in enumerate(RATINGS)}
    for source_id, username, rating in rows:
        codes[item_index[source_id], rater_index[username]] = code[PrescreenRating(rating)]
    if codes.size:
        codes = codes[(codes >= 0).sum(axis=1) >= 2]
    return raters, codes


def _agreement(scale: str, raters: list[str], codes: np.ndarray, n_categories: int) -> Agreement:
    pairs: list[PairAgreement] = []
    for i, j in combinations(range(len(raters)), 2):
        both = (codes[:, i] >= 0) & (codes[:, j] >= 0)
        a, b = codes[both, i], codes[both, j]
        percent = float((a == b).mean() * 100) if a.size else None
        kappa = cohen_kappa(a, b, n_categories)
        pairs.append(PairAgreement(raters[i], raters[j], int(a.size), percent, kappa))
    complete = codes[(codes >= 0).all(axis=1)] if codes.size else codes
    percent_all = None
    if complete.size:
        percent_all = float((complete == complete[:, :1]).all(axis=1).mean() * 100)
    fleiss = fleiss_kappa(complete, n_categories) if complete.size else None
    return Agreement(scale, raters, int(complete.shape[0]), percent_all, fleiss, pairs)


def agreement(session: Session) -> list[Agreement]:
    """Agreement on the three ratings and on the keep/remove decision (borderline = remove)."""
    raters, codes = _matrix(session)
    if len(raters) < 2:
        return []
    decision = np.where(codes < 0, -1, (codes >= 1).astype(np.int64))
    return [_agreement("ratings", raters, codes, 3), _agreement("decision", raters, decision, 2)]
