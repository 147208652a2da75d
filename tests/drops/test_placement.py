"""Ordering a drop: only ballot winners inside their window, wins passed on in drawn order, and
holder priority before a first-come sale opens."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog.errors import BallotRequired
from apps.catalog.models import Ballot, BallotEntry, BallotEntryStatus, BallotStatus, EditionHolding
from apps.catalog.services import ballots, drops
from apps.notifications.models import Notification
from apps.orders import services as order_services
from apps.orders.models import Order, OrderStatus
from apps.orders.services import LineRequest
from marketplace.errors import InvalidState, LimitExceeded, NotOnSale, SoldOut
from marketplace.models import AuditEvent
from tests.drops.conftest import after_draw_time, register_many
from tests.factories import ProductFactory, ShopperFactory, paid_order, place_order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def order_body(product, quantity=1):
    return {"lines": [{"product": product.pk, "quantity": quantity}]}


def drawn(ballot, drop, registrants=5):
    users = register_many(drop, registrants)
    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))
    entries = BallotEntry.objects.filter(ballot=ballot)
    winners = [e.user for e in entries.filter(status=BallotEntryStatus.WON).order_by("draw_position").select_related("user")]
    waiting = [e.user for e in entries.filter(status=BallotEntryStatus.WAITING).order_by("draw_position").select_related("user")]
    return users, winners, waiting


def code(response):
    return response.json()["errors"][0]["code"]


# --- Ballot products -----------------------------------------------------------------------------------


def test_nobody_orders_a_ballot_product_before_the_draw(ballot, drop, client_a, shopper):
    ballots.ballot_register(product_id=drop.pk, user=shopper)

    response = client_a.post(ORDERS, order_body(drop), format="json")

    assert response.status_code == 409
    assert code(response) == "ballot_required"
    assert Order.objects.count() == 0


def test_a_winner_orders_one_edition_inside_their_window_and_others_are_refused(ballot, drop):
    from tests.factories import authenticated_client

    _users, winners, waiting = drawn(ballot, drop)

    assert authenticated_client(winners[0]).post(ORDERS, order_body(drop), format="json").status_code == 201
    refused = authenticated_client(waiting[0]).post(ORDERS, order_body(drop), format="json")
    assert refused.status_code == 409 and code(refused) == "ballot_required"
    outsider = authenticated_client(ShopperFactory()).post(ORDERS, order_body(drop), format="json")
    assert outsider.status_code == 409 and code(outsider) == "ballot_required"
    entry = BallotEntry.objects.get(ballot=ballot, user=winners[0])
    assert entry.status == BallotEntryStatus.CLAIMED and entry.claimed_at is not None


def test_a_win_buys_one_edition_once(ballot, drop):
    _users, winners, _waiting = drawn(ballot, drop)

    with pytest.raises(LimitExceeded):
        place_order(winners[0], (drop, 2))
    place_order(winners[0], (drop, 1))
    with pytest.raises(BallotRequired):
        place_order(winners[0], (drop, 1))
    assert Order.objects.filter(user=winners[0]).count() == 1


def test_a_win_after_its_window_is_refused(ballot, drop):
    _users, winners, _waiting = drawn(ballot, drop)
    entry = BallotEntry.objects.get(ballot=ballot, user=winners[0])

    with pytest.raises(BallotRequired):
        order_services.order_place(user=winners[0], lines=[LineRequest(product_id=drop.pk, quantity=1)],
                                   now=entry.purchase_by)


def test_a_refused_order_keeps_the_win(ballot, drop, exhibitor_a):
    _users, winners, _waiting = drawn(ballot, drop)
    other = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=1)
    place_order(ShopperFactory(), (other, 1))  # sold out now

    with pytest.raises(SoldOut):  # the whole order is refused, the claim rolls back with it
        place_order(winners[0], (drop, 1), (other, 1))

    assert BallotEntry.objects.get(ballot=ballot, user=winners[0]).status == BallotEntryStatus.WON
    place_order(winners[0], (drop, 1))


def test_a_ballot_win_lets_a_winner_buy_before_the_sale_start(exhibitor_a):
    from tests.drops.conftest import make_ballot

    drop = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=2,
                          sale_starts_at=timezone.now() + timedelta(days=5))
    ballot = make_ballot(drop)
    _users, winners, _waiting = drawn(ballot, drop, registrants=2)

    order = place_order(winners[0], (drop, 1))

    assert order.status == OrderStatus.PENDING_PAYMENT


# --- Passing wins on -----------------------------------------------------------------------------------


def test_an_unclaimed_win_lapses_and_passes_to_the_next_in_drawn_order(ballot, drop):
    _users, winners, waiting = drawn(ballot, drop)
    place_order(winners[0], (drop, 1))
    place_order(winners[1], (drop, 1))
    window_end = BallotEntry.objects.get(ballot=ballot, user=winners[2]).purchase_by

    offered = ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=window_end + timedelta(seconds=1))

    assert offered == 1
    assert BallotEntry.objects.get(ballot=ballot, user=winners[2]).status == BallotEntryStatus.LAPSED
    next_up = BallotEntry.objects.get(ballot=ballot, user=waiting[0])
    assert next_up.status == BallotEntryStatus.WON
    assert next_up.purchase_by == window_end + timedelta(seconds=1) + timedelta(minutes=ballot.purchase_window_minutes)
    assert BallotEntry.objects.get(ballot=ballot, user=waiting[1]).status == BallotEntryStatus.WAITING
    notice = Notification.objects.get(kind="ballot_won", recipient_user=waiting[0])
    assert notice.context["passed_on"] is True


def test_the_sweep_offers_nothing_twice(ballot, drop):
    _users, winners, _waiting = drawn(ballot, drop)
    later = BallotEntry.objects.get(ballot=ballot, user=winners[0]).purchase_by + timedelta(seconds=1)

    first = ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=later)
    second = ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=later)

    assert (first, second) == (2, 0)  # 3 lapsed, 2 left to offer
    assert BallotEntry.objects.filter(ballot=ballot, status=BallotEntryStatus.WON).count() == 2


def test_while_wins_are_open_nothing_is_passed_on(ballot, drop):
    drawn(ballot, drop)

    assert ballots.ballot_offers_sweep(now=after_draw_time(ballot) + timedelta(minutes=1)) == 0


def test_an_edition_back_from_an_expired_order_goes_to_the_next_in_line(ballot, drop):
    _users, winners, waiting = drawn(ballot, drop)
    order = place_order(winners[0], (drop, 1))
    order_services.order_expire(order_id=order.pk, now=order.expires_at + timedelta(seconds=1))

    offered = ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=after_draw_time(ballot) + timedelta(minutes=1))

    assert offered == 1
    assert BallotEntry.objects.get(ballot=ballot, user=winners[0]).status == BallotEntryStatus.CLAIMED  # one chance per win
    assert BallotEntry.objects.get(ballot=ballot, user=waiting[0]).status == BallotEntryStatus.WON


def test_the_ballot_closes_once_every_edition_is_sold(ballot, drop):
    _users, winners, _waiting = drawn(ballot, drop)
    for winner in winners:
        paid_order(winner, (drop, 1))

    ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=after_draw_time(ballot) + timedelta(minutes=1))

    assert Ballot.objects.get(pk=ballot.pk).status == BallotStatus.CLOSED


def test_the_ballot_closes_when_nobody_is_left_to_offer(ballot, drop):
    _users, winners, _waiting = drawn(ballot, drop, registrants=2)
    later = BallotEntry.objects.get(ballot=ballot, user=winners[0]).purchase_by + timedelta(seconds=1)

    ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=later)

    assert Ballot.objects.get(pk=ballot.pk).status == BallotStatus.CLOSED


def test_an_operator_sells_what_a_closed_ballot_left_first_come(ballot, drop, operator):
    """Nobody left to offer the editions to: the product stays sold by ballot (nobody may buy)
    until an operator opens it to everyone; refused while winners still have their claim."""
    _users, winners, _waiting = drawn(ballot, drop, registrants=2)
    stranger = ShopperFactory()
    with pytest.raises(InvalidState):
        ballots.ballot_open_to_everyone(ballot_id=ballot.pk, actor=operator)  # drawn: the winners come first
    later = BallotEntry.objects.get(ballot=ballot, user=winners[0]).purchase_by + timedelta(seconds=1)
    ballots.ballot_offers_sweep_one(ballot_id=ballot.pk, now=later)
    with pytest.raises(BallotRequired):
        order_services.order_place(user=stranger, lines=[LineRequest(product_id=drop.pk, quantity=1)])

    free = ballots.ballot_open_to_everyone(ballot_id=ballot.pk, actor=operator)
    assert free == drop.editions.filter(status="available").count() > 0
    assert ballots.ballot_open_to_everyone(ballot_id=ballot.pk, actor=operator) == free  # twice: nothing more
    order = order_services.order_place(user=stranger, lines=[LineRequest(product_id=drop.pk, quantity=1)])
    assert order.status == OrderStatus.PENDING_PAYMENT
    [event] = AuditEvent.objects.filter(name="open_sale", object_id=str(drop.pk))
    assert (event.from_state, event.to_state, event.actor_id) == ("ballot", "first_come", operator.pk)


# --- Holder priority -------------------------------------------------------------------------------------


@pytest.fixture
def koi(exhibitor_a):
    return ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, title="Koi")


@pytest.fixture
def lanterns(exhibitor_a, koi):
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, title="Lanterns",
                             sale_starts_at=timezone.now() + timedelta(days=1))
    drops.holder_priority_save(product=product, starts_at=timezone.now() - timedelta(hours=1), holders_of=[koi])
    return product


def fulfilled(user, product):
    from apps.fulfilment.services import fulfilment_fulfil_order

    order = paid_order(user, (product, 1))
    fulfilment_fulfil_order(order_id=order.pk)
    return order


def test_a_holder_orders_from_the_priority_start_and_others_wait_for_the_sale(lanterns, koi, client_a, client_b, shopper):
    fulfilled(shopper, koi)
    assert EditionHolding.objects.filter(user=shopper, edition__product=koi).exists()

    assert client_a.post(ORDERS, order_body(lanterns), format="json").status_code == 201
    refused = client_b.post(ORDERS, order_body(lanterns), format="json")
    assert refused.status_code == 409 and code(refused) == "not_on_sale"


def test_priority_opens_at_its_own_start(lanterns, koi, shopper):
    fulfilled(shopper, koi)
    priority_start = lanterns.priority.starts_at

    with pytest.raises(NotOnSale):
        order_services.order_place(user=shopper, lines=[LineRequest(product_id=lanterns.pk, quantity=1)],
                                   now=priority_start - timedelta(seconds=1))


def test_an_unpaid_order_is_no_holding(lanterns, koi, shopper):
    place_order(shopper, (koi, 1))

    with pytest.raises(NotOnSale):
        place_order(shopper, (lanterns, 1))


def test_a_refund_ends_the_holding(lanterns, koi, shopper):
    from apps.fulfilment.services import entitlements_revoke_lines

    order = fulfilled(shopper, koi)
    entitlements_revoke_lines(order_line_ids=list(order.lines.values_list("id", flat=True)), reason="refund")

    assert not EditionHolding.objects.filter(user=shopper).exists()
    with pytest.raises(NotOnSale):
        place_order(shopper, (lanterns, 1))


def test_priority_needs_a_sale_start_after_it(exhibitor_a, koi):
    from marketplace.errors import ValidationFailed

    open_now = ProductFactory(exhibitor=exhibitor_a, collectible=True)
    with pytest.raises(ValidationFailed):
        drops.holder_priority_save(product=open_now, starts_at=timezone.now(), holders_of=[koi])


def test_first_come_drops_cost_no_extra_query(exhibitor_a, shopper):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plain = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5)
    with CaptureQueriesContext(connection) as queries:
        place_order(shopper, (plain, 1))

    # The priority is joined to the product's read; no query of the drops' own.
    assert not any("catalog_ballotentry" in q["sql"] or 'FROM "catalog_holderpriority"' in q["sql"]
                   or "catalog_editionholding" in q["sql"] for q in queries.captured_queries)
