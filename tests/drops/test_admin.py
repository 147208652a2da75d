"""The drops in the admin: operators set ballots up and draw them; staff see their own products'
ballots read-only, registrants masked; holder priority is set through the service, scoped."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.catalog.models import Ballot, BallotEntry, BallotStatus, HolderPriority, SaleMode
from tests.drops.conftest import make_ballot, register_many
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def drop_b(exhibitor_b):
    return ProductFactory(exhibitor=exhibitor_b, collectible=True, edition_size=3, title="Bravo Koi")


def test_an_operator_sets_up_a_ballot_and_only_its_commitment_shows(operator, drop):
    now = timezone.now()
    response = logged_in(operator).post(reverse("admin:catalog_ballot_add"), {
        "product": drop.pk, "registration_starts_at_0": local(now - timedelta(hours=1))[:10],
        "registration_starts_at_1": local(now - timedelta(hours=1))[11:],
        "registration_ends_at_0": local(now + timedelta(hours=1))[:10], "registration_ends_at_1": local(now + timedelta(hours=1))[11:],
        "draw_at_0": local(now + timedelta(hours=2))[:10], "draw_at_1": local(now + timedelta(hours=2))[11:],
        "purchase_window_minutes": 30, "custom_seed": "",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    ballot = Ballot.objects.get(product=drop)
    drop.refresh_from_db()
    assert drop.sale_mode == SaleMode.BALLOT
    page = logged_in(operator).get(reverse("admin:catalog_ballot_change", args=[ballot.pk])).content.decode()
    assert ballot.seed_sha256 in page
    assert ballot.seed not in page


def test_an_operator_draws_from_the_list_once_registration_has_ended(operator, drop):
    # registration ended an hour ago; the draw is set for two hours from now
    ballot = make_ballot(drop, now=timezone.now() - timedelta(hours=2), draw_after_close=timedelta(hours=3))

    response = logged_in(operator).post(reverse("admin:catalog_ballot_changelist"),
                                        {"action": "draw_now", "_selected_action": [ballot.pk]})

    assert response.status_code == 302
    ballot.refresh_from_db()
    assert ballot.status == BallotStatus.DRAWN
    page = logged_in(operator).get(reverse("admin:catalog_ballot_change", args=[ballot.pk])).content.decode()
    assert ballot.seed in page  # revealed once drawn


def test_an_operator_puts_a_closed_ballots_leftovers_on_open_sale_from_the_list(operator, staff_a, drop):
    ballot = make_ballot(drop)
    Ballot.objects.filter(pk=ballot.pk).update(status=BallotStatus.CLOSED)  # nobody was left to offer the editions to
    changelist = reverse("admin:catalog_ballot_changelist")
    action = {"action": "open_to_everyone", "_selected_action": [ballot.pk]}

    logged_in(staff_a).post(changelist, action)  # not an action staff have
    assert drop.__class__.objects.get(pk=drop.pk).sale_mode == SaleMode.BALLOT
    page = logged_in(operator).post(changelist, action, follow=True).content.decode()
    assert "now on open sale" in page
    assert drop.__class__.objects.get(pk=drop.pk).sale_mode == SaleMode.FIRST_COME


def test_staff_see_their_own_ballots_read_only_and_another_exhibitors_answer_404(staff_a, drop, drop_b):
    own = make_ballot(drop)
    foreign = make_ballot(drop_b)
    client = logged_in(staff_a)

    listing = client.get(reverse("admin:catalog_ballot_changelist")).content.decode()
    assert "Golden Koi" in listing and "Bravo Koi" not in listing
    assert client.get(reverse("admin:catalog_ballot_change", args=[foreign.pk])).status_code == 404
    page = client.get(reverse("admin:catalog_ballot_change", args=[own.pk]))
    assert page.status_code == 200
    assert own.seed not in page.content.decode()
    assert client.get(reverse("admin:catalog_ballot_add")).status_code == 403
    assert client.post(reverse("admin:catalog_ballot_changelist"),
                       {"action": "draw_now", "_selected_action": [own.pk]}).status_code in (200, 302)
    assert Ballot.objects.get(pk=own.pk).status == BallotStatus.REGISTRATION


def test_staff_see_registrants_masked_and_operators_in_full(staff_a, operator, drop, drop_b):
    make_ballot(drop)
    make_ballot(drop_b)
    [mine] = register_many(drop, 1)
    [theirs] = register_many(drop_b, 1)

    staff_page = logged_in(staff_a).get(reverse("admin:catalog_ballotentry_changelist")).content.decode()
    operator_page = logged_in(operator).get(reverse("admin:catalog_ballotentry_changelist")).content.decode()

    assert mine.email not in staff_page and f"{mine.email[0]}***@" in staff_page
    assert BallotEntry.objects.get(user=theirs).public_id not in staff_page
    assert mine.email in operator_page and theirs.email in operator_page


def test_staff_set_holder_priority_on_their_own_product_only(staff_a, exhibitor_a, drop, drop_b):
    starts = timezone.now() + timedelta(days=2)
    lanterns = ProductFactory(exhibitor=exhibitor_a, collectible=True, sale_starts_at=starts, title="Lanterns")
    foreign = ProductFactory(exhibitor=drop_b.exhibitor, collectible=True, sale_starts_at=starts, title="Foreign")
    client = logged_in(staff_a)
    when = starts - timedelta(days=1)

    def post(product):
        return client.post(reverse("admin:catalog_holderpriority_add"), {
            "product": product.pk, "starts_at_0": local(when)[:10], "starts_at_1": local(when)[11:], "holders_of": [drop.pk]})

    assert post(foreign).status_code == 200  # "Select a valid choice": another exhibitor's product
    assert not HolderPriority.objects.filter(product=foreign).exists()
    assert post(lanterns).status_code == 302
    priority = HolderPriority.objects.get(product=lanterns)
    assert list(priority.holders_of.values_list("pk", flat=True)) == [drop.pk]
