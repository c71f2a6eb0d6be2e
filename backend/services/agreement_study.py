"""Agreement studies: several labelers annotate the same batches, and their boxes are compared.

The paper measured inter-labeler agreement by assigning two batches to each of its three
labelers, who were asked to annotate *all* instances of multi-miscompressions so that the choice
of "the first three" instances would not count as disagreement (section 3.2.4). Here a study
gives each chosen labeler an assignment on each chosen batch and marks those batches
``annotate_all_instances``, which makes the workspace show that instruction.

Annotations belong to a (labeler, reconstruction) pair, so a labeler's copy of a batch is simply
her assignment on it. An image counts for a labeler once her review of it is done; until then
she has no value for it.

This module is the one place that writes studies, :mod:`backend.services.agreement_runs` the
one that writes their analyses, and :mod:`backend.services.agreement_picture` draws an image's
grid; the admin pages and the JSON API call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from backend.models import (
    AgreementStudy,
    Assignment,
    AssignmentStatus,
    Batch,
    BatchItem,
    Reconstruction,
    Review,
    Role,
    User,
)

NAME_MAX = 128
MIN_LABELERS = 2
MAX_GRID = 32
"""Largest grid side n accepted for a run (1,024 units per image; the paper stops at 16)."""


class StudyInputError(ValueError):
    """A study or run request that cannot be carried out; the message says why."""


class ImageNotInStudyError(StudyInputError, LookupError):
    """A picture was asked for an image position the study does not have."""


# --- creating a study ----------------------------------------------------------------------


def _ids(values: Sequence[object], what: str) -> list[int]:
    ids: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StudyInputError(f"{what} ids must be integers, got {value!r}")
        if value in ids:
            raise StudyInputError(f"{what} {value} is listed twice")
        ids.append(value)
    return ids


def create_study(
    session: Session,
    *,
    name: str,
    batch_ids: Sequence[object],
    labeler_ids: Sequence[object],
    created_by: User | None,
) -> AgreementStudy:
    """Create a study and give every chosen labeler her own copy of every chosen batch.

    A copy is an :class:`Assignment`; existing ones are kept as they are. The batches are set to
    ``annotate_all_instances`` (paper, 3.2.4). Everything is checked before anything is written,
    so refused input (:class:`StudyInputError`) leaves the database untouched.
    """
    if not isinstance(name, str) or not name.strip():
        raise StudyInputError("the study needs a name")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise StudyInputError(f"the name is longer than {NAME_MAX} characters")
    batch_list = _ids(batch_ids, "batch")
    labeler_list = _ids(labeler_ids, "labeler")
    if not batch_list:
        raise StudyInputError("choose at least one batch")
    if len(labeler_list) < MIN_LABELERS:
        raise StudyInputError(
            f"choose at least {MIN_LABELERS} labelers: agreement needs two opinions per image"
        )

    batches = {b.id: b for b in session.exec(select(Batch).where(col(Batch.id).in_(batch_list)))}
    unknown = [i for i in batch_list if i not in batches]
    if unknown:
        raise StudyInputError(f"unknown batch ids: {', '.join(map(str, unknown))}")
    filled = set(
        session.exec(
            select(BatchItem.batch_id).where(col(BatchItem.batch_id).in_(batch_list)).distinct()
        ).all()
    )
    empty = [batches[i].name for i in batch_list if i not in filled]
    if empty:
        raise StudyInputError(f"batches without images: {', '.join(empty)}")

    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(labeler_list)))}
    unknown = [i for i in labeler_list if i not in users]
    if unknown:
        raise StudyInputError(f"unknown user ids: {', '.join(map(str, unknown))}")
    not_labelers = [users[i].username for i in labeler_list if users[i].role != Role.labeler]
    if not_labelers:
        raise StudyInputError(f"not labelers: {', '.join(not_labelers)}")
    inactive = [users[i].username for i in labeler_list if not users[i].is_active]
    if inactive:
        raise StudyInputError(f"deactivated labelers: {', '.join(inactive)}")

    existing = set(
        session.exec(
            select(Assignment.batch_id, Assignment.labeler_id).where(
                col(Assignment.batch_id).in_(batch_list),
                col(Assignment.labeler_id).in_(labeler_list),
            )
        ).all()
    )
    for batch_id in batch_list:
        batch = batches[batch_id]
        batch.annotate_all_instances = True
        session.add(batch)
        for labeler_id in labeler_list:
            if (batch_id, labeler_id) not in existing:
                session.add(Assignment(batch_id=batch_id, labeler_id=labeler_id))
    study = AgreementStudy(
        name=name,
        batch_ids=batch_list,
        labeler_ids=labeler_list,
        created_by=created_by.id if created_by else None,
    )
    session.add(study)
    session.commit()
    session.refresh(study)
    return study


def list_studies(session: Session) -> list[AgreementStudy]:
    return list(session.exec(select(AgreementStudy).order_by(col(AgreementStudy.id).desc())))


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyStatus:
    """One labeler's copy of one batch: how many of its images she has marked done."""

    labeler_id: int
    labeler: str
    batch_id: int
    batch: str
    n_done: int
    n_items: int
    assignment: AssignmentStatus | None

    @property
    def done(self) -> bool:
        return self.n_done >= self.n_items


@dataclass(frozen=True, slots=True)
class StudyStatus:
    """Progress of a study; ``complete`` once every copy is done."""

    copies: tuple[CopyStatus, ...]
    n_images: int
    n_images_complete: int

    @property
    def complete(self) -> bool:
        return all(c.done for c in self.copies)


@dataclass(frozen=True, slots=True)
class StudyRows:
    batches: dict[int, Batch]
    labelers: dict[int, User]
    items: list[tuple[int, Reconstruction]]  # (batch id, reconstruction) in study order
    done: set[tuple[int, int]]  # (labeler id, reconstruction id) with a done review

    def images(self) -> list[Reconstruction]:
        """The study's distinct reconstructions, in batch then position order."""
        seen: dict[int, Reconstruction] = {}
        for _, recon in self.items:
            seen.setdefault(recon.id, recon)  # type: ignore[arg-type]
        return list(seen.values())


def study_rows(session: Session, study: AgreementStudy) -> StudyRows:
    batch_ids = list(study.batch_ids)
    labeler_ids = list(study.labeler_ids)
    batches = {b.id: b for b in session.exec(select(Batch).where(col(Batch.id).in_(batch_ids)))}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(labeler_ids)))}
    rows = session.exec(
        select(BatchItem.batch_id, BatchItem.position, Reconstruction)
        .join(Reconstruction, Reconstruction.id == BatchItem.reconstruction_id)  # type: ignore[arg-type]
        .where(col(BatchItem.batch_id).in_(batch_ids))
    ).all()
    order = {batch_id: i for i, batch_id in enumerate(batch_ids)}
    items = [(b, r) for b, _, r in sorted(rows, key=lambda row: (order[row[0]], row[1]))]
    recon_ids = {r.id for _, r in items}
    done = set(
        session.exec(
            select(Review.labeler_id, Review.reconstruction_id).where(
                col(Review.labeler_id).in_(labeler_ids),
                col(Review.reconstruction_id).in_(list(recon_ids)),
                col(Review.done).is_(True),
            )
        ).all()
    )
    return StudyRows(
        batches={k: v for k, v in batches.items() if k is not None},
        labelers={k: v for k, v in users.items() if k is not None},
        items=items,
        done=done,
    )


def study_status(session: Session, study: AgreementStudy) -> StudyStatus:
    """Per labeler and batch, images done out of the batch's images."""
    rows = study_rows(session, study)
    assignments = {
        (a.batch_id, a.labeler_id): a.status
        for a in session.exec(
            select(Assignment).where(
                col(Assignment.batch_id).in_(study.batch_ids),
                col(Assignment.labeler_id).in_(study.labeler_ids),
            )
        )
    }
    copies: list[CopyStatus] = []
    for labeler_id in study.labeler_ids:
        user = rows.labelers.get(labeler_id)
        for batch_id in study.batch_ids:
            batch = rows.batches.get(batch_id)
            recons = [r.id for b, r in rows.items if b == batch_id]
            copies.append(
                CopyStatus(
                    labeler_id=labeler_id,
                    labeler=user.username if user else f"user {labeler_id}",
                    batch_id=batch_id,
                    batch=batch.name if batch else f"batch {batch_id}",
                    n_done=sum((labeler_id, r) in rows.done for r in recons),
                    n_items=len(recons),
                    assignment=assignments.get((batch_id, labeler_id)),
                )
            )
    images = rows.images()
    complete = sum(all((lab, r.id) in rows.done for lab in study.labeler_ids) for r in images)
    return StudyStatus(copies=tuple(copies), n_images=len(images), n_images_complete=complete)


def labeler_names(study: AgreementStudy, rows: StudyRows) -> dict[int, str]:
    return {
        i: rows.labelers[i].username if i in rows.labelers else f"user {i}"
        for i in study.labeler_ids
    }
