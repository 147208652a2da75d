"""Ballots: set-up and seed commitment, registration, the draw, the public record and its proof.

The proof the issue asks for is `test_anyone_recomputes_the_winners_from_the_public_data_alone`:
it reads only public endpoints (the product before the draw for the commitment, the draw record
after) and recomputes the winners with its own implementation of the documented algorithm.
"""

import hashlib
import hmac
import random
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.errors import AlreadyRegistered
from apps.catalog.models import Ballot, BallotEntry, BallotEntryStatus, BallotStatus, ProductKind, SaleMode
from apps.catalog.services import ballots
from apps.notifications.models import Notification
from marketplace.errors import InvalidState, ValidationFailed
from marketplace.models import AuditEvent
from tests.drops.conftest import after_draw_time, make_ballot, register_many
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def product_url(product_id: int) -> str:
    return f"/api/v1/products/{product_id}/"


def register_url(product_id: int) -> str:
    return f"/api/v1/products/{product_id}/ballot/register"


def standing_url(product_id: int) -> str:
    return f"/api/v1/products/{product_id}/ballot/"


def draw_url(product_id: int) -> str:
    return f"/api/v1/products/{product_id}/ballot/draw"


# --- Set-up and the seed commitment -----------------------------------------------------------------


def test_a_new_ballot_commits_to_a_random_seed_and_puts_the_product_in_ballot_mode(drop):
    ballot = make_ballot(drop)

    drop.refresh_from_db()
    assert drop.sale_mode == SaleMode.BALLOT
    assert len(ballot.seed) == 64
    assert ballot.seed_sha256 == hashlib.sha256(ballot.seed.encode()).hexdigest()
    assert AuditEvent.objects.filter(object_id=str(ballot.pk), name="create").count() == 1


def test_two_ballots_do_not_share_a_seed(exhibitor_a):
    first = make_ballot(ProductFactory(exhibitor=exhibitor_a, collectible=True))
    second = make_ballot(ProductFactory(exhibitor=exhibitor_a, collectible=True))

    assert first.seed != second.seed


def test_only_collectibles_are_sold_by_ballot(exhibitor_a):
    with pytest.raises(ValidationFailed):
        make_ballot(ProductFactory(exhibitor=exhibitor_a, kind=ProductKind.DOWNLOAD))


def test_the_seed_cannot_change_once_registration_has_started(ballot, drop):
    with pytest.raises(InvalidState):
        make_ballot(drop, seed="x" * 40)
    ballot.refresh_from_db()
    assert ballot.seed_sha256 == hashlib.sha256(ballot.seed.encode()).hexdigest()


def test_before_registration_opens_the_operator_may_choose_the_seed_and_the_commitment_follows(drop):
    make_ballot(drop, opens=timedelta(hours=1), closes=timedelta(hours=2))

    ballot = make_ballot(drop, opens=timedelta(hours=1), closes=timedelta(hours=2), seed="s" * 40)

    assert ballot.seed == "s" * 40
    assert ballot.seed_sha256 == hashlib.sha256(b"s" * 40).hexdigest()


def test_a_short_seed_is_refused(drop):
    with pytest.raises(ValidationFailed):
        make_ballot(drop, seed="too-short")


def test_the_draw_cannot_come_before_registration_ends(drop):
    with pytest.raises(ValidationFailed):
        make_ballot(drop, closes=timedelta(hours=2), draw_after_close=timedelta(hours=-1))


# --- Registration -----------------------------------------------------------------------------------


def test_a_shopper_registers_once(ballot, drop, client_a):
    response = client_a.post(register_url(drop.pk))

    assert response.status_code == 201
    assert response.json() == {"status": "registered"}
    again = client_a.post(register_url(drop.pk))
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "already_registered"
    ballot.refresh_from_db()
    assert ballot.registrations_count == 1
    assert BallotEntry.objects.filter(ballot=ballot).count() == 1


def test_registration_outside_its_window_is_refused(drop, client_a):
    make_ballot(drop, opens=timedelta(hours=1), closes=timedelta(hours=2))

    response = client_a.post(register_url(drop.pk))

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "not_registrable_now"


def test_registration_after_its_window_is_refused(ballot, drop, shopper):
    from apps.catalog.errors import NotRegistrableNow

    with pytest.raises(NotRegistrableNow):
        ballots.ballot_register(product_id=drop.pk, user=shopper, now=ballot.registration_ends_at)


def test_registration_needs_a_session(ballot, drop, api_client):
    assert api_client.post(register_url(drop.pk)).status_code == 401


def test_a_product_without_a_public_ballot_answers_404(exhibitor_a, client_a):
    first_come = ProductFactory(exhibitor=exhibitor_a, collectible=True)
    draft = ProductFactory(exhibitor=exhibitor_a, collectible=True, is_published=False)
    make_ballot(draft)

    for product in (first_come, draft):
        assert client_a.post(register_url(product.pk)).status_code == 404
        assert client_a.get(standing_url(product.pk)).status_code == 404
        assert client_a.get(draw_url(product.pk)).status_code == 404


def test_registration_ids_are_opaque_and_unique(ballot, drop):
    users = register_many(drop, 5)

    ids = list(BallotEntry.objects.filter(ballot=ballot).values_list("public_id", flat=True))
    assert len(set(ids)) == 5
    assert not any(str(user.pk) == public_id or user.email in public_id for user in users for public_id in ids)


# --- The draw ---------------------------------------------------------------------------------------


def test_the_draw_offers_as_many_wins_as_editions_and_puts_everyone_else_on_the_waiting_list(ballot, drop):
    register_many(drop, 7)

    assert ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot)) is True

    ballot.refresh_from_db()
    assert ballot.status == BallotStatus.DRAWN
    assert ballot.winners_count == 3
    entries = BallotEntry.objects.filter(ballot=ballot)
    assert sorted(entries.values_list("draw_position", flat=True)) == list(range(1, 8))
    won = entries.filter(status=BallotEntryStatus.WON)
    assert sorted(won.values_list("draw_position", flat=True)) == [1, 2, 3]
    assert {e.purchase_by for e in won} == {after_draw_time(ballot) + timedelta(minutes=60)}
    assert entries.filter(status=BallotEntryStatus.WAITING).count() == 4


def test_fewer_registrations_than_editions_all_win(ballot, drop):
    register_many(drop, 2)

    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    ballot.refresh_from_db()
    assert ballot.winners_count == 2
    assert BallotEntry.objects.filter(ballot=ballot, status=BallotEntryStatus.WON).count() == 2


def test_drawing_twice_changes_nothing_the_second_time(ballot, drop):
    register_many(drop, 5)
    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))
    before = list(BallotEntry.objects.filter(ballot=ballot).order_by("id").values_list("status", "draw_position", "purchase_by"))

    assert ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot) + timedelta(hours=1)) is False

    after = list(BallotEntry.objects.filter(ballot=ballot).order_by("id").values_list("status", "draw_position", "purchase_by"))
    assert after == before
    draws = AuditEvent.objects.filter(name="draw")
    assert draws.filter(content_type=ContentType.objects.get_for_model(Ballot), object_id=str(ballot.pk)).count() == 1
    # each entry's registered -> won/waiting has its one audit row too, not repeated
    entry_draws = draws.filter(content_type=ContentType.objects.get_for_model(BallotEntry))
    assert sorted(entry_draws.values_list("to_state", flat=True)) == sorted(status for status, _, _ in after)
    assert Notification.objects.filter(kind__in=["ballot_won", "ballot_lost"]).count() == 5


def test_the_draw_costs_the_same_statements_for_5_or_12_registrations(drop, exhibitor_a):
    """The draw is set-based (one UPDATE for every entry's position and state): its statement count
    does not grow with the registrations (bench S8 draws 100,000). Both ballots have winners and a
    waiting list, and the audit's content types are cached first, so only the size differs."""
    small, large = make_ballot(drop), make_ballot(ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=3))
    register_many(drop, 5)
    register_many(large.product, 12)
    ContentType.objects.get_for_model(Ballot)
    ContentType.objects.get_for_model(BallotEntry)

    counts = []
    for ballot in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            assert ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot)) is True
        counts.append(len(ctx.captured_queries))

    assert counts[0] == counts[1]
    assert sorted(BallotEntry.objects.filter(ballot=large).values_list("draw_position", flat=True)) == list(range(1, 13))


def test_a_draw_that_finds_an_entry_already_moved_changes_nothing(ballot, drop):
    register_many(drop, 4)
    moved = BallotEntry.objects.filter(ballot=ballot).first()
    assert moved is not None
    BallotEntry.objects.filter(pk=moved.pk).update(status=BallotEntryStatus.WAITING)  # what no service does before the draw

    with pytest.raises(RuntimeError):
        ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    ballot.refresh_from_db()
    assert ballot.status == BallotStatus.REGISTRATION
    assert not BallotEntry.objects.filter(ballot=ballot, draw_position__isnull=False).exists()
    assert not Notification.objects.filter(kind__in=["ballot_won", "ballot_lost"]).exists()


def test_the_draw_waits_for_its_time_unless_an_operator_draws_after_registration_closed(ballot, drop):
    register_many(drop, 2)

    with pytest.raises(InvalidState):
        ballots.ballot_draw(ballot_id=ballot.pk, now=ballot.draw_at - timedelta(seconds=1))
    with pytest.raises(InvalidState):
        ballots.ballot_draw(ballot_id=ballot.pk, now=ballot.registration_ends_at - timedelta(seconds=1), early=True)
    assert ballots.ballot_draw(ballot_id=ballot.pk, now=ballot.registration_ends_at, early=True) is True


def test_the_beat_task_draws_only_ballots_whose_time_has_come(drop, exhibitor_a):
    due = make_ballot(drop)
    later = make_ballot(ProductFactory(exhibitor=exhibitor_a, collectible=True), closes=timedelta(days=1))

    assert ballots.ballots_draw_due(now=after_draw_time(due)) == 1
    assert ballots.ballots_draw_due(now=after_draw_time(due)) == 0

    assert Ballot.objects.get(pk=due.pk).status == BallotStatus.DRAWN
    assert Ballot.objects.get(pk=later.pk).status == BallotStatus.REGISTRATION


def test_everyone_registered_is_told_the_result(ballot, drop):
    users = register_many(drop, 5)

    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    by_user = dict(Notification.objects.filter(kind__in=["ballot_won", "ballot_lost"]).values_list("recipient_user_id", "kind"))
    assert set(by_user) == {u.pk for u in users}
    winners = set(BallotEntry.objects.filter(ballot=ballot, status=BallotEntryStatus.WON).values_list("user_id", flat=True))
    assert {uid for uid, kind in by_user.items() if kind == "ballot_won"} == winners
    won = Notification.objects.filter(kind="ballot_won").first()
    assert won is not None and won.context["product_title"] == "Golden Koi" and won.context["purchase_by"]


# --- The public record and the proof ---------------------------------------------------------------


def recompute(seed: str, registrations: list[str], count: int) -> list[str]:
    """The documented algorithm, written independently of apps.catalog.services.ballots."""
    keyed = [(hmac.new(seed.encode(), rid.encode(), hashlib.sha256).hexdigest(), rid) for rid in registrations]
    return [rid for _key, rid in sorted(keyed)][:count]


def test_anyone_recomputes_the_winners_from_the_public_data_alone(ballot, drop, api_client):
    register_many(drop, 9)
    before = api_client.get(product_url(drop.pk)).json()
    assert before["ballot"]["seed"] is None
    commitment = before["ballot"]["seed_sha256"]
    assert api_client.get(draw_url(drop.pk)).status_code == 409  # nothing to check before the draw

    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    record = api_client.get(draw_url(drop.pk)).json()
    product = api_client.get(product_url(drop.pk)).json()
    assert hashlib.sha256(record["seed"].encode()).hexdigest() == commitment  # the seed is the one committed to
    assert product["ballot"]["seed"] == record["seed"]
    assert len(record["registrations"]) == product["ballot"]["registrations"] == 9
    count = min(product["edition_size"], len(record["registrations"]))
    assert record["winners"] == recompute(record["seed"], record["registrations"], count)
    assert "HMAC-SHA256" in record["algorithm"]


def test_the_same_registrations_and_seed_always_give_the_same_order():
    ids = [f"{n:016x}" for n in range(50)]
    seed = "a" * 64
    expected = ballots.drawn_order(seed=seed, registration_ids=ids)

    for _ in range(5):
        shuffled = random.sample(ids, len(ids))
        assert ballots.drawn_order(seed=seed, registration_ids=shuffled) == expected
    assert ballots.drawn_order(seed="b" * 64, registration_ids=ids) != expected


def test_the_record_lists_registrations_in_registration_order(ballot, drop, api_client):
    users = register_many(drop, 4)
    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    record = api_client.get(draw_url(drop.pk)).json()

    expected = [BallotEntry.objects.get(ballot=ballot, user=u).public_id for u in users]
    assert record["registrations"] == expected


# --- A shopper's standing ---------------------------------------------------------------------------


def test_a_shopper_sees_where_they_stand(ballot, drop, client_a, shopper):
    assert client_a.get(standing_url(drop.pk)).json() == {"status": "not_registered", "purchase_by": None, "registration": None}
    client_a.post(register_url(drop.pk))
    registered = client_a.get(standing_url(drop.pk)).json()
    assert registered["status"] == "registered" and registered["purchase_by"] is None
    others = register_many(drop, 5)

    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    entry = BallotEntry.objects.get(ballot=ballot, user=shopper)
    standing = client_a.get(standing_url(drop.pk)).json()
    assert standing["registration"] == entry.public_id
    if entry.status == BallotEntryStatus.WON:
        assert standing["status"] == "won"
        assert standing["purchase_by"] is not None
    else:
        assert standing == {"status": "lost", "purchase_by": None, "registration": entry.public_id}
    assert len(others) == 5


def test_standing_needs_a_session(ballot, drop, api_client):
    assert api_client.get(standing_url(drop.pk)).status_code == 401


def test_an_unregistered_shopper_is_not_told_anything_about_others(ballot, drop, client_b):
    register_many(drop, 3)
    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    assert client_b.get(standing_url(drop.pk)).json()["status"] == "not_registered"


def test_registrations_count_is_the_number_of_shoppers(ballot, drop):
    register_many(drop, 3)
    with pytest.raises(AlreadyRegistered):  # a refused registration counts nothing
        ballots.ballot_register(product_id=drop.pk, user=BallotEntry.objects.first().user)  # type: ignore[union-attr]

    ballot.refresh_from_db()
    assert ballot.registrations_count == 3 == BallotEntry.objects.filter(ballot=ballot).count()


def test_the_drops_events_have_their_owners_subscribed():
    from marketplace import events

    assert events.subscribers_of("ballot.drawn") == ["apps.notifications.subscribers.ballot_drawn"]
    assert events.subscribers_of("ballot.offered") == ["apps.notifications.subscribers.ballot_offered"]
    assert events.subscribers_of("gift.received") == ["apps.notifications.subscribers.gift_received"]
    assert events.subscribers_of("gift.revoked") == ["apps.notifications.subscribers.gift_revoked"]
