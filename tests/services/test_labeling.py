"""The one rule for a box, and a batch's progress once an image was removed on request."""

from __future__ import annotations

import pytest
from sqlmodel import select

from backend.models import Assignment, AssignmentStatus, Review, Role
from backend.schemas import BoxIn
from backend.services import anonymise, labeling
from tests.utils.factories import make_batch, make_user


def test_a_box_inside_the_image_is_kept_as_drawn():
    placed = labeling.place_annotation(BoxIn(x=3, y=4, w=20, h=10), 100, 80)
    assert (placed.x, placed.y, placed.w, placed.h, placed.clipped) == (3, 4, 20, 10, False)
    assert placed.message is None


def test_a_box_past_the_edge_is_clipped_and_says_so():
    placed = labeling.place_annotation(BoxIn(x=90, y=70, w=50, h=50), 100, 80)
    assert (placed.w, placed.h, placed.clipped) == (10, 10, True)
    assert placed.message and "10×10" in placed.message


@pytest.mark.parametrize(
    "box",
    [
        BoxIn(x=0, y=0, w=labeling.MIN_ANNOTATION_SIDE - 1, h=10),
        BoxIn(x=99, y=0, w=40, h=40),  # one column inside
        BoxIn(x=100, y=0, w=5, h=5),  # starts outside
    ],
)
def test_boxes_that_break_the_rule_are_refused(box):
    with pytest.raises(labeling.AnnotationRefused):
        labeling.place_annotation(box, 100, 80)


def test_a_removed_image_no_longer_holds_back_the_batch(session):
    ana = make_user(session, "ana")
    boss = make_user(session, "boss", Role.admin)
    fixture = make_batch(session, ana, n_items=3)
    kept, removed = fixture.items[:2], fixture.items[2]
    assignment = session.exec(select(Assignment)).one()
    for recon in kept:
        session.add(Review(labeler_id=ana.id, reconstruction_id=recon.id, done=True, version=1))
    assignment.status = AssignmentStatus.in_progress
    session.add(assignment)
    session.commit()
    assert labeling.batch_progress(session, fixture.batch.id, ana.id) == (3, 2)

    anonymise.anonymise_source(
        session, removed.source_image_id, actor_id=boss.id, reference="ticket 12"
    )

    assert labeling.batch_progress(session, fixture.batch.id, ana.id) == (2, 2)
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.done and assignment.finished_at is not None
