"""Prescreening: the paper's removal rule and the agreement between raters."""

from __future__ import annotations

import pytest

from backend.models import PrescreenRating, Role, SourceImage, SourceStatus
from backend.services import prescreen
from tests.services.helpers import fake_sources
from tests.utils.factories import make_user

INC, BOR, EXC = PrescreenRating.include, PrescreenRating.borderline, PrescreenRating.exclude


def status_of(session, source_id: int) -> SourceStatus:
    session.expire_all()
    return session.get(SourceImage, source_id).status


@pytest.fixture()
def raters(session):
    return make_user(session, "ada", Role.admin), make_user(session, "rui", Role.researcher)


def test_removed_only_when_two_raters_both_say_borderline_or_exclude(session, raters):
    ada, rui = raters
    ids = fake_sources(session, 4)
    votes = [(BOR, EXC), (EXC, INC), (INC, INC), (BOR, BOR)]
    for source_id, (first, second) in zip(ids, votes, strict=True):
        prescreen.vote(session, ada, source_id, first)
        assert status_of(session, source_id) == SourceStatus.prepared  # one rater never removes
        prescreen.vote(session, rui, source_id, second)
    assert [status_of(session, i) for i in ids] == [
        SourceStatus.excluded,
        SourceStatus.prepared,
        SourceStatus.prepared,
        SourceStatus.excluded,
    ]


def test_a_third_rater_or_a_changed_rating_brings_an_image_back(session, raters):
    ada, rui = raters
    [source_id] = fake_sources(session, 1)
    prescreen.vote(session, ada, source_id, EXC)
    prescreen.vote(session, rui, source_id, BOR)
    assert status_of(session, source_id) == SourceStatus.excluded
    eve = make_user(session, "eve", Role.researcher)
    prescreen.vote(session, eve, source_id, INC)
    assert status_of(session, source_id) == SourceStatus.prepared
    prescreen.vote(session, eve, source_id, EXC)  # changing one's mind replaces the vote
    assert status_of(session, source_id) == SourceStatus.excluded


def test_next_image_skips_own_votes_and_anonymised_images(session, raters):
    ada, rui = raters
    ids = fake_sources(session, 3)
    prescreen.vote(session, ada, ids[0], INC)
    assert prescreen.next_image(session, ada.id).id == ids[1]
    assert prescreen.next_image(session, rui.id).id == ids[0]  # raters work independently
    image = session.get(SourceImage, ids[1])
    image.status = SourceStatus.anonymised
    session.add(image)
    session.commit()
    assert prescreen.next_image(session, ada.id).id == ids[2]
    with pytest.raises(prescreen.PrescreenError):
        prescreen.vote(session, ada, ids[1], INC)
    prescreen.vote(session, ada, ids[2], BOR)
    assert prescreen.next_image(session, ada.id) is None


def test_agreement_on_ratings_and_on_the_decision(session, raters):
    ada, rui = raters
    ids = fake_sources(session, 6)
    pairs = [(INC, INC), (INC, BOR), (BOR, EXC), (EXC, EXC), (INC, INC), (BOR, BOR)]
    for source_id, (a, b) in zip(ids, pairs, strict=True):
        prescreen.vote(session, ada, source_id, a)
        prescreen.vote(session, rui, source_id, b)
    ratings, decision = prescreen.agreement(session)
    assert ratings.raters == ["ada", "rui"] and ratings.items_all == 6
    assert ratings.percent_all == pytest.approx(100 * 4 / 6)
    # Decision scale: keep = include; only the (include, borderline) image differs.
    assert decision.percent_all == pytest.approx(100 * 5 / 6)
    [pair] = decision.pairs
    assert pair.items == 6 and pair.kappa == pytest.approx(2 / 3)
    assert ratings.fleiss is not None and ratings.pairs[0].kappa is not None
    overview = prescreen.overview(session, ada.id)
    assert (overview.screenable, overview.excluded, overview.mine) == (6, 3, 6)
    assert [r.rated for r in overview.raters] == [6, 6]


def test_no_agreement_with_a_single_rater(session, raters):
    ada, _ = raters
    [source_id] = fake_sources(session, 1)
    prescreen.vote(session, ada, source_id, INC)
    assert prescreen.agreement(session) == []
