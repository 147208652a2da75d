"""Races of the drops on real Postgres: threads released together by a barrier."""

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from apps.catalog.models import Ballot, BallotEntry, BallotEntryStatus, BallotStatus
from apps.catalog.services import ballots
from apps.orders.models import Order
from apps.orders.services import LineRequest, order_place
from tests.drops.conftest import after_draw_time, make_ballot, register_many
from tests.factories import ExhibitorFactory, ProductFactory, ShopperFactory
from tests.orders.test_races import run_together

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def outcome(result: Any) -> str:
    if isinstance(result, Exception):
        return getattr(result, "code", repr(result))
    return "ok"


def test_one_shopper_registering_ten_times_at_once_is_registered_once():
    drop = ProductFactory(exhibitor=ExhibitorFactory(), collectible=True, edition_size=3)
    ballot = make_ballot(drop)
    shopper = ShopperFactory()

    results = run_together([lambda: ballots.ballot_register(product_id=drop.pk, user=shopper) for _ in range(10)])

    assert Counter(outcome(r) for r in results) == {"ok": 1, "already_registered": 9}
    assert Ballot.objects.get(pk=ballot.pk).registrations_count == 1


def test_registrations_racing_the_draw_are_either_drawn_or_refused():
    drop = ProductFactory(exhibitor=ExhibitorFactory(), collectible=True, edition_size=3)
    ballot = make_ballot(drop)
    register_many(drop, 3)
    late = [ShopperFactory() for _ in range(12)]
    last_moment = ballot.registration_ends_at - timedelta(milliseconds=1)
    jobs = [lambda u=u: ballots.ballot_register(product_id=drop.pk, user=u, now=last_moment) for u in late]
    jobs.insert(6, lambda: ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot)))

    results = run_together(jobs)

    assert results[6] is True
    assert not BallotEntry.objects.filter(ballot=ballot, status=BallotEntryStatus.REGISTERED).exists()
    assert not BallotEntry.objects.filter(ballot=ballot, draw_position__isnull=True).exists()
    drawn = Ballot.objects.get(pk=ballot.pk)
    assert drawn.status == BallotStatus.DRAWN
    assert drawn.registrations_count == BallotEntry.objects.filter(ballot=ballot).count()
    refused = Counter(outcome(r) for i, r in enumerate(results) if i != 6)
    assert set(refused) <= {"ok", "not_registrable_now"}


def test_a_winner_placing_two_orders_at_once_gets_one():
    drop = ProductFactory(exhibitor=ExhibitorFactory(), collectible=True, edition_size=3)
    ballot = make_ballot(drop)
    register_many(drop, 2)
    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))
    winner = BallotEntry.objects.filter(ballot=ballot, status=BallotEntryStatus.WON).select_related("user").first().user  # type: ignore[union-attr]

    results = run_together([lambda: order_place(user=winner, lines=[LineRequest(product_id=drop.pk, quantity=1)])
                            for _ in range(6)])

    assert Counter(outcome(r) for r in results) == {"ok": 1, "ballot_required": 5}
    assert Order.objects.filter(user=winner).count() == 1
