"""Agreement studies: creating them, their status, kept runs and the picture of one image."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import Session, func, select

from backend.agreement import Box, ImageSpec, compute_agreement
from backend.models import (
    AgreementRun,
    AgreementStudy,
    Annotation,
    Assignment,
    Batch,
    Reconstruction,
    Review,
    Role,
    User,
)
from backend.services import agreement_picture as pictures
from backend.services import agreement_runs as runs
from backend.services import agreement_study as studies
from tests.utils.factories import make_batch, make_user

LABELERS = ("ann", "ben", "cat")


@dataclass
class BuiltStudy:
    """A study of two batches (two images each) and three labelers with known boxes."""

    study: AgreementStudy
    admin: User
    labelers: dict[str, User]
    batches: list[Batch]
    images: list[Reconstruction]
    boxes: list[Box]
    missing: set[tuple[str, str]]

    def specs(self) -> list[ImageSpec]:
        return [ImageSpec(r.blind_name, r.width, r.height) for r in self.images]


def _box(session: Session, user: User, recon: Reconstruction, frac: tuple[float, ...]) -> Box:
    x, y, w, h = (
        round(frac[0] * recon.width),
        round(frac[1] * recon.height),
        round(frac[2] * recon.width),
        round(frac[3] * recon.height),
    )
    session.add(Annotation(reconstruction_id=recon.id, labeler_id=user.id, x=x, y=y, w=w, h=h))  # type: ignore[arg-type]
    return Box(recon.blind_name, user.username, x, y, w, h)


def _done(session: Session, user: User, recon: Reconstruction, done: bool = True) -> None:
    session.add(Review(labeler_id=user.id, reconstruction_id=recon.id, done=done))  # type: ignore[arg-type]


def build_study(session: Session, *, unfinished: bool = True) -> BuiltStudy:
    """Known boxes on four images; with ``unfinished``, cat has not finished image 0.

    Cat's box on image 0 then exists but must not count, and (image 0, cat) is missing.
    """
    admin = make_user(session, "boss", Role.admin)
    labelers = {name: make_user(session, name) for name in LABELERS}
    one = make_batch(session, None, 2, name="Agreement A", seed0=0)
    two = make_batch(session, None, 2, name="Agreement B", seed0=10)
    study = studies.create_study(
        session,
        name="Lab study",
        batch_ids=[one.batch.id, two.batch.id],
        labeler_ids=[labelers[n].id for n in LABELERS],
        created_by=admin,
    )
    ann, ben, cat = (labelers[n] for n in LABELERS)
    im0, im1 = one.items
    im2, im3 = two.items
    top_left = (0.05, 0.05, 0.2, 0.2)
    boxes = [
        _box(session, ann, im0, top_left),
        _box(session, ben, im0, (0.1, 0.08, 0.25, 0.2)),
        _box(session, ann, im1, (0.6, 0.1, 0.3, 0.3)),
        _box(session, cat, im1, (0.55, 0.05, 0.3, 0.35)),
        _box(session, ann, im3, (0.1, 0.6, 0.2, 0.3)),
        _box(session, ben, im3, (0.05, 0.55, 0.3, 0.3)),
        _box(session, cat, im3, (0.1, 0.7, 0.2, 0.2)),
        _box(session, cat, im3, (0.6, 0.6, 0.1, 0.1)),
    ]
    # A deleted box never counts.
    session.add(
        Annotation(
            reconstruction_id=im2.id,  # type: ignore[arg-type]
            labeler_id=ben.id,  # type: ignore[arg-type]
            x=0,
            y=0,
            w=50,
            h=50,
            deleted=True,
        )
    )
    missing: set[tuple[str, str]] = set()
    for recon in (im0, im1, im2, im3):
        for user in (ann, ben, cat):
            if unfinished and recon is im0 and user is cat:
                continue
            _done(session, user, recon)
    if unfinished:
        _box(session, cat, im0, (0.7, 0.7, 0.2, 0.2))  # work in progress: left out
        _done(session, cat, im0, done=False)
        missing.add((im0.blind_name, "cat"))
    session.commit()
    return BuiltStudy(
        study=study,
        admin=admin,
        labelers=labelers,
        batches=[one.batch, two.batch],
        images=[im0, im1, im2, im3],
        boxes=boxes,
        missing=missing,
    )


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# --- creating ----------------------------------------------------------------------------------


def test_create_study_assigns_every_labeler_every_batch(session: Session) -> None:
    admin = make_user(session, "boss", Role.admin)
    ann, ben, cat = (make_user(session, n) for n in LABELERS)
    one = make_batch(session, ann, 2, name="A")  # ann already holds batch A
    two = make_batch(session, None, 1, name="B", seed0=5)
    study = studies.create_study(
        session,
        name="  Agreement 1 ",
        batch_ids=[one.batch.id, two.batch.id],
        labeler_ids=[ann.id, ben.id, cat.id],
        created_by=admin,
    )
    assert study.name == "Agreement 1"
    assert study.batch_ids == [one.batch.id, two.batch.id]
    assert study.labeler_ids == [ann.id, ben.id, cat.id]
    assert study.created_by == admin.id
    pairs = sorted(session.exec(select(Assignment.batch_id, Assignment.labeler_id)).all())
    expected = sorted((b.id, u.id) for b in (one.batch, two.batch) for u in (ann, ben, cat))
    assert pairs == expected  # ann's existing assignment was kept, not duplicated
    for batch in (one.batch, two.batch):
        session.refresh(batch)
        assert batch.annotate_all_instances is True


def test_existing_assignment_keeps_its_progress(session: Session) -> None:
    ann, ben = make_user(session, "ann"), make_user(session, "ben")
    one = make_batch(session, ann, 1)
    before = session.exec(select(Assignment)).one()
    before_id, before_status = before.id, before.status
    studies.create_study(
        session, name="S", batch_ids=[one.batch.id], labeler_ids=[ann.id, ben.id], created_by=None
    )
    kept = session.exec(select(Assignment).where(Assignment.labeler_id == ann.id)).one()
    assert (kept.id, kept.status) == (before_id, before_status)


@pytest.mark.parametrize(
    ("name", "batches", "labelers", "message"),
    [
        ("Study", ["A"], ["ann"], "at least 2 labelers"),
        ("Study", [], ["ann", "ben"], "at least one batch"),
        ("Study", ["A", 999], ["ann", "ben"], "unknown batch ids: 999"),
        ("Study", ["A"], ["ann", 999], "unknown user ids: 999"),
        ("Study", ["A"], ["ann", "boss"], "not labelers: boss"),
        ("Study", ["A"], ["ann", "rita"], "not labelers: rita"),
        ("Study", ["A"], ["ann", "ina"], "deactivated labelers: ina"),
        ("Study", ["A"], ["ann", "2"], "must be integers"),
        ("Study", ["A", True], ["ann", "ben"], "must be integers"),
        ("Study", [1.0], ["ann", "ben"], "must be integers"),
        ("Study", ["A"], ["ann", "ben", "ann"], "listed twice"),
        ("   ", ["A"], ["ann", "ben"], "needs a name"),
        ("x" * 129, ["A"], ["ann", "ben"], "longer than 128"),
        ("Study", ["A", "Empty"], ["ann", "ben"], "batches without images: Empty"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    session: Session, name: str, batches: list[object], labelers: list[object], message: str
) -> None:
    """Names stand for the rows made here; "2" stays a string, 999 an unknown id."""
    users = {
        "boss": make_user(session, "boss", Role.admin),
        "rita": make_user(session, "rita", Role.researcher),
        "ina": make_user(session, "ina"),
        **{n: make_user(session, n) for n in LABELERS},
    }
    users["ina"].is_active = False
    session.add(users["ina"])
    one = make_batch(session, users["ann"], 1, name="A")
    empty = Batch(number=9, name="Empty")
    session.add(empty)
    session.commit()
    batch_rows = {"A": one.batch.id, "Empty": empty.id}
    user_ids = {key: user.id for key, user in users.items()}
    before = sorted(session.exec(select(Assignment.batch_id, Assignment.labeler_id)).all())

    with pytest.raises(studies.StudyInputError, match=message):
        studies.create_study(
            session,
            name=name,
            batch_ids=[batch_rows.get(b, b) if isinstance(b, str) else b for b in batches],
            labeler_ids=[user_ids.get(u, u) if isinstance(u, str) else u for u in labelers],
            created_by=users["boss"],
        )
    session.rollback()
    assert _count(session, AgreementStudy) == 0
    assert sorted(session.exec(select(Assignment.batch_id, Assignment.labeler_id)).all()) == before
    assert not any(b.annotate_all_instances for b in session.exec(select(Batch)))


# --- status ------------------------------------------------------------------------------------


def test_status_counts_done_images_per_labeler_and_batch(session: Session) -> None:
    built = build_study(session)
    state = studies.study_status(session, built.study)
    table = {(c.labeler, c.batch): (c.n_done, c.n_items) for c in state.copies}
    assert table == {
        ("ann", "Agreement A"): (2, 2),
        ("ann", "Agreement B"): (2, 2),
        ("ben", "Agreement A"): (2, 2),
        ("ben", "Agreement B"): (2, 2),
        ("cat", "Agreement A"): (1, 2),
        ("cat", "Agreement B"): (2, 2),
    }
    assert state.n_images == 4
    assert state.n_images_complete == 3
    assert not state.complete


def test_study_input_leaves_unfinished_work_out(session: Session) -> None:
    built = build_study(session)
    data = runs.study_input(session, built.study)
    assert data.labelers == LABELERS
    assert list(data.images) == built.specs()
    assert sorted(data.boxes, key=repr) == sorted(built.boxes, key=repr)
    assert data.missing == built.missing


# --- runs --------------------------------------------------------------------------------------


def test_run_equals_compute_agreement_on_the_same_boxes(session: Session) -> None:
    built = build_study(session)
    params = runs.run_params(grids=[4, 1, 2], rule="paper", bootstrap=200, seed=7)
    run = runs.run_analysis(session, built.study, params, built.admin)

    expected = compute_agreement(
        built.specs(),
        built.boxes,
        LABELERS,
        grids=(1, 2, 4),
        rule="paper",
        bootstrap=200,
        seed=7,
        missing=built.missing,
    )
    session.expire_all()
    stored = session.get(AgreementRun, run.id)
    assert stored is not None
    assert stored.result == [r.to_dict() for r in expected]
    assert stored.params["grids"] == [1, 2, 4]
    assert stored.params["rule"] == "paper"
    assert (stored.params["bootstrap"], stored.params["seed"]) == (200, 7)
    assert stored.params["inputs"]["missing"] == [[built.images[0].blind_name, "cat"]]
    assert stored.params["inputs"]["boxes"] == len(built.boxes)
    assert stored.params["inputs"]["labelers"] == list(LABELERS)
    assert stored.created_by == built.admin.id
    # Image 0 has two values (cat is missing), still enough: all four images count at n = 1.
    assert stored.result[0]["n_units"] == 4


def test_runs_are_kept(session: Session) -> None:
    built = build_study(session)
    first = runs.run_analysis(
        session, built.study, runs.run_params([1, 2], bootstrap=50, seed=1), built.admin
    )
    first_params, first_result = dict(first.params), list(first.result)
    # Cat finishes image 0 before the second run.
    cat = built.labelers["cat"]
    review = session.exec(
        select(Review).where(
            Review.labeler_id == cat.id, Review.reconstruction_id == built.images[0].id
        )
    ).one()
    review.done = True
    session.add(review)
    session.commit()
    second = runs.run_analysis(
        session,
        built.study,
        runs.run_params([1, 2], rule="largest-share", bootstrap=50, seed=2),
        built.admin,
    )
    assert second.id != first.id
    assert _count(session, AgreementRun) == 2
    session.expire_all()
    again = session.get(AgreementRun, first.id)
    assert again is not None
    assert (again.params, again.result) == (first_params, first_result)
    assert [r.id for r in runs.list_runs(session, built.study)] == [second.id, first.id]
    assert runs.get_run(session, built.study, first.id or 0) is not None
    assert runs.get_run(session, built.study, 999) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grids": []}, "at least one grid size"),
        ({"grids": [0]}, "between 1 and 32"),
        ({"grids": [33]}, "between 1 and 32"),
        ({"grids": [2, 2]}, "listed twice"),
        ({"grids": ["4"]}, "must be an integer"),
        ({"grids": list(range(1, 10))}, "at most 8"),
        ({"rule": "bogus"}, "unknown unit rule"),
        ({"bootstrap": 10_001}, "between 0 and 10,000"),
        ({"bootstrap": -1}, "between 0 and 10,000"),
        ({"bootstrap": True}, "must be an integer"),
        ({"seed": -1}, "seed must lie between"),
        ({"seed": 1.5}, "must be an integer"),
    ],
)
def test_run_params_are_bounded(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(studies.StudyInputError, match=message):
        runs.run_params(**kwargs)  # type: ignore[arg-type]


def test_run_without_finished_images_is_refused(session: Session) -> None:
    ann, ben = make_user(session, "ann"), make_user(session, "ben")
    one = make_batch(session, None, 1)
    study = studies.create_study(
        session, name="S", batch_ids=[one.batch.id], labeler_ids=[ann.id, ben.id], created_by=None
    )
    with pytest.raises(studies.StudyInputError, match="cannot measure agreement yet"):
        runs.run_analysis(session, study, runs.RunParams(bootstrap=0), None)
    assert _count(session, AgreementRun) == 0


def test_oversized_run_is_refused(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    built = build_study(session)
    monkeypatch.setattr(runs, "MAX_DRAWS", 1000)
    with pytest.raises(studies.StudyInputError, match="bootstrap units"):
        runs.run_analysis(session, built.study, runs.run_params([16]), built.admin)
    assert _count(session, AgreementRun) == 0


# --- picture -----------------------------------------------------------------------------------


def test_picture_has_every_finished_labelers_boxes_and_unit_categories(session: Session) -> None:
    built = build_study(session)
    picture = pictures.study_picture(session, built.study, 3, 2, "paper")
    im3 = built.images[3]
    assert (picture.blind_name, picture.width, picture.height) == (
        im3.blind_name,
        im3.width,
        im3.height,
    )
    assert {b.labeler for b in picture.boxes} == set(LABELERS)
    assert len(picture.boxes) == 4
    colours = {lab.name: lab.colour for lab in picture.labelers}
    assert len(set(colours.values())) == 3
    assert all(b.colour == colours[b.labeler] for b in picture.boxes)
    # Bottom-left (unit 2) marked by all three, bottom-right (3) by cat only, top untouched.
    assert [u.category for u in picture.units] == ["c_neg", "c_neg", "c_pos", "p_neg"]
    assert picture.units[2].marked_by == LABELERS
    assert picture.units[3].marked_by == ("cat",)
    assert picture.units[3].x == im3.width / 2
    assert picture.counts() == {"c_neg": 2, "c_pos": 1, "p_pos": 0, "p_neg": 1, "none": 0}


def test_picture_leaves_unfinished_labeler_out(session: Session) -> None:
    built = build_study(session)
    picture = pictures.study_picture(session, built.study, 0, 1, "paper")
    assert {b.labeler for b in picture.boxes} == {"ann", "ben"}
    present = {lab.name: lab.present for lab in picture.labelers}
    assert present == {"ann": True, "ben": True, "cat": False}
    assert picture.units[0].category == "c_pos"  # both labelers with a value marked it


def test_picture_refuses_unknown_image_and_grid(session: Session) -> None:
    built = build_study(session)
    with pytest.raises(studies.ImageNotInStudyError):
        pictures.study_picture(session, built.study, 4, 2, "paper")
    with pytest.raises(studies.StudyInputError, match="grid size"):
        pictures.study_picture(session, built.study, 0, 0, "paper")
    with pytest.raises(studies.StudyInputError, match="unit rule"):
        pictures.study_picture(session, built.study, 0, 2, "nope")
