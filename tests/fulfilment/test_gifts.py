"""Gifting collectibles (API.md "Gifting collectibles"): the owner gives an edition to another verified
shopper after the holding period; the certificate keeps its code and gains its provenance.

Attacks tried: another shopper's item (404), oneself, an unknown or unverified recipient (one
answer), a price in the body, replays with the same and another body, a revoked item, an item
already given, and (in test_gifts_races.py) two gifts of one item at once.
"""

from datetime import datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone

from apps.catalog.models import EditionHolding
from apps.fulfilment.models import Entitlement, EntitlementStatus, Gift
from apps.fulfilment.services import entitlement_transfer, entitlements_revoke_lines, fulfilment_fulfil_order
from apps.notifications.models import Notification
from apps.orders.models import Order
from marketplace.models import AuditEvent
from tests.factories import ShopperFactory, authenticated_client, paid_order
from tests.test_output_shapes import assert_matches

pytestmark = pytest.mark.django_db


def verified(email: str):
    user = ShopperFactory(email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def owned(user, product) -> Entitlement:
    order = paid_order(user, (product, 1))
    [entitlement] = fulfilment_fulfil_order(order_id=order.pk)
    return entitlement


def transfer_url(entitlement_id: int) -> str:
    return f"/api/v1/library/{entitlement_id}/transfer"


def code(response) -> str:
    return response.json()["errors"][0]["code"]


@pytest.fixture
def no_holding_period(settings):
    settings.FULFILMENT = {**settings.FULFILMENT, "GIFT_HOLD_FIRST": timedelta(0), "GIFT_HOLD_AFTER_TRANSFER": timedelta(0)}


@pytest.fixture
def friend(db):
    return verified("friend@shopper.test")


@pytest.fixture
def item(shopper, drop) -> Entitlement:
    return owned(shopper, drop)


# --- The gift --------------------------------------------------------------------------------------------


def test_a_gift_moves_the_edition_and_its_certificate_to_the_recipient(no_holding_period, item, friend, client_a):
    response = client_a.post(transfer_url(item.pk), {"to_email": "Friend@Shopper.test"}, format="json")

    assert response.status_code == 201
    body = response.json()
    gift = Gift.objects.get()
    assert body == {"id": gift.pk, "status": "completed", "edition": {"serial": item.serial}, "to": "Friend@Shopper.test"}
    given = Entitlement.objects.get(pk=item.pk)
    received = Entitlement.objects.get(user=friend)
    assert given.status == EntitlementStatus.TRANSFERRED and given.transferred_at is not None
    assert received.status == EntitlementStatus.ACTIVE
    assert (received.edition_id, received.serial, received.certificate_code, received.certificate_signature) == (
        item.edition_id, item.serial, item.certificate_code, item.certificate_signature)
    assert EditionHolding.objects.get(edition_id=item.edition_id).user_id == friend.pk
    assert AuditEvent.objects.filter(object_id=str(item.pk), name="transfer", to_state="transferred").count() == 1
    assert AuditEvent.objects.filter(object_id=str(received.pk), name="receive").count() == 1


def test_no_price_travels_and_nothing_is_sold(no_holding_period, item, friend, client_a):
    orders_before = Order.objects.count()

    response = client_a.post(transfer_url(item.pk), {"to_email": friend.email, "price": 1, "amount": 99999}, format="json")

    assert response.status_code == 201
    assert "price" not in response.json() and "amount" not in response.json()
    assert Order.objects.count() == orders_before
    received = Entitlement.objects.get(user=friend)
    assert received.order_id == item.order_id  # the unit keeps its origin; no new order, payment or ledger row


def test_the_givers_library_shows_it_given_without_secrets_and_the_recipients_shows_it_owned(
        no_holding_period, item, friend, client_a, settings):
    client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")
    settings.FULFILMENT = {**settings.FULFILMENT, "GIFT_HOLD_AFTER_TRANSFER": timedelta(days=730)}

    [given] = client_a.get("/api/v1/library/").json()["results"]
    [received] = authenticated_client(friend).get("/api/v1/library/").json()["results"]

    assert given["status"] == "transferred"
    assert given["transferable_at"] is None
    assert received["status"] == "active"
    assert received["order"] is None  # the giver's order stays theirs
    assert received["edition"]["serial"] == item.serial
    received_row = Entitlement.objects.get(user=friend)
    assert datetime.fromisoformat(received["transferable_at"]) == received_row.acquired_at + timedelta(days=730)


def test_the_certificate_stays_valid_and_shows_its_provenance_masked(no_holding_period, item, friend, client_a, api_client):
    client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")

    certificate = api_client.get(f"/api/v1/certificates/{item.certificate_code}/").json()

    assert certificate["valid"] is True
    assert [entry["holder"] for entry in certificate["provenance"]] == ["a*@shopper.test", "f****d@shopper.test"]
    first, second = certificate["provenance"]
    assert first["until"] is not None and first["until"] == second["from"]
    assert second["until"] is None
    assert "a@shopper.test" not in str(certificate) and "friend@shopper.test" not in str(certificate)
    assert certificate["transferable_at"] is not None


def test_the_certificate_page_opens_after_a_gift(no_holding_period, item, friend, client_a, client):
    client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")

    page = client.get(reverse("fulfilment-pages:certificate", kwargs={"code": item.certificate_code}))

    assert page.status_code == 200
    assert "f****d@shopper.test" in page.content.decode()


def test_the_recipient_is_told(no_holding_period, item, friend):
    entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email)

    notice = Notification.objects.get(kind="gift_received")
    assert notice.recipient_user_id == friend.pk
    assert notice.context["serial"] == item.serial


def test_a_received_gift_can_be_given_on_after_its_own_holding_period(item, friend, settings):
    settings.FULFILMENT = {**settings.FULFILMENT, "GIFT_HOLD_FIRST": timedelta(0), "GIFT_HOLD_AFTER_TRANSFER": timedelta(days=730)}
    entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email)
    received = Entitlement.objects.get(user=friend)
    third = verified("third@shopper.test")
    from apps.fulfilment.errors import HoldingPeriod

    with pytest.raises(HoldingPeriod):
        entitlement_transfer(entitlement_id=received.pk, user=friend, to_email=third.email)
    entitlement_transfer(entitlement_id=received.pk, user=friend, to_email=third.email,
                         now=timezone.now() + timedelta(days=731))

    certificate_holders = Entitlement.objects.filter(certificate_code=item.certificate_code).count()
    assert certificate_holders == 3
    assert Entitlement.objects.get(user=third).status == EntitlementStatus.ACTIVE


# --- Refusals ----------------------------------------------------------------------------------------------


def test_within_the_holding_period_the_answer_says_from_when(item, friend, client_a):
    response = client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")

    assert response.status_code == 409
    assert code(response) == "holding_period"
    expected = (item.created_at + timedelta(days=180)).isoformat()
    assert expected in response.json()["errors"][0]["detail"]
    library = client_a.get(f"/api/v1/library/{item.pk}/").json()
    assert datetime.fromisoformat(library["transferable_at"]) == item.created_at + timedelta(days=180)
    assert not Gift.objects.exists()


def test_unknown_and_unverified_recipients_get_one_answer(no_holding_period, item, client_a):
    ShopperFactory(email="unverified@shopper.test")
    EmailAddress.objects.create(user=ShopperFactory(email="pending@shopper.test"), email="pending@shopper.test", verified=False)

    answers = [client_a.post(transfer_url(item.pk), {"to_email": email}, format="json")
               for email in ("nobody@shopper.test", "unverified@shopper.test", "pending@shopper.test")]

    assert {(r.status_code, code(r), r.json()["errors"][0]["detail"]) for r in answers} == {
        (409, "recipient_not_eligible", answers[0].json()["errors"][0]["detail"])}
    assert Entitlement.objects.get(pk=item.pk).status == EntitlementStatus.ACTIVE


def test_an_inactive_recipient_is_not_eligible(no_holding_period, item, client_a):
    gone = verified("gone@shopper.test")
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    response = client_a.post(transfer_url(item.pk), {"to_email": gone.email}, format="json")

    assert code(response) == "recipient_not_eligible"


def test_giving_to_oneself_is_refused(no_holding_period, item, shopper, client_a):
    EmailAddress.objects.create(user=shopper, email=shopper.email, verified=True, primary=True)

    response = client_a.post(transfer_url(item.pk), {"to_email": shopper.email}, format="json")

    assert response.status_code == 409 and code(response) == "recipient_not_eligible"


def test_another_shoppers_item_answers_404(no_holding_period, item, friend, client_b):
    response = client_b.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")

    assert response.status_code == 404
    assert Entitlement.objects.get(pk=item.pk).status == EntitlementStatus.ACTIVE


def test_an_unknown_item_answers_404(no_holding_period, friend, client_a):
    assert client_a.post(transfer_url(999999), {"to_email": friend.email}, format="json").status_code == 404


def test_a_given_item_cannot_be_given_again(no_holding_period, item, friend, client_a):
    client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")
    other = verified("other@shopper.test")

    response = client_a.post(transfer_url(item.pk), {"to_email": other.email}, format="json")

    assert response.status_code == 409 and code(response) == "invalid_state"
    assert Entitlement.objects.filter(user=other).count() == 0


def test_a_revoked_item_cannot_be_given(no_holding_period, item, friend, client_a):
    entitlements_revoke_lines(order_line_ids=[item.order_line_id], reason="refund")

    response = client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json")

    assert response.status_code == 409 and code(response) == "invalid_state"


def test_only_collectibles_can_be_given(no_holding_period, shopper, friend, client_a, booth_pass):
    entitlement = owned(shopper, booth_pass)

    response = client_a.post(transfer_url(entitlement.pk), {"to_email": friend.email}, format="json")

    assert response.status_code == 409 and code(response) == "invalid_state"


def test_a_gift_needs_a_session_and_an_email(no_holding_period, item, api_client, client_a):
    assert api_client.post(transfer_url(item.pk), {"to_email": "x@y.test"}, format="json").status_code == 401
    bad = client_a.post(transfer_url(item.pk), {"to_email": "not an email"}, format="json")
    assert bad.status_code == 400


# --- Replays ------------------------------------------------------------------------------------------------


def test_the_same_key_replays_the_first_answer_and_another_body_is_refused(no_holding_period, item, friend, client_a):
    first = client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json", HTTP_IDEMPOTENCY_KEY="gift-1")
    again = client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json", HTTP_IDEMPOTENCY_KEY="gift-1")
    other = client_a.post(transfer_url(item.pk), {"to_email": "x@shopper.test"}, format="json", HTTP_IDEMPOTENCY_KEY="gift-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and code(other) == "idempotency_key_reused"
    assert Gift.objects.count() == 1


# --- After a gift ---------------------------------------------------------------------------------------


def test_a_refund_after_a_gift_revokes_the_recipients_item(no_holding_period, item, friend, api_client):
    entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email)

    revoked = entitlements_revoke_lines(order_line_ids=[item.order_line_id], reason="refund")

    assert revoked == 1
    received = Entitlement.objects.get(user=friend)
    assert received.status == EntitlementStatus.REVOKED
    assert Entitlement.objects.get(pk=item.pk).status == EntitlementStatus.TRANSFERRED
    assert not EditionHolding.objects.filter(edition_id=item.edition_id).exists()
    assert api_client.get(f"/api/v1/certificates/{item.certificate_code}/").json()["valid"] is False


def test_the_recipient_of_a_gift_is_told_when_a_refund_takes_it_back(no_holding_period, item, friend):
    from apps.notifications.services.render import render_email

    entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email)
    entitlements_revoke_lines(order_line_ids=[item.order_line_id], reason="refund")
    entitlements_revoke_lines(order_line_ids=[item.order_line_id], reason="refund")  # twice: told once

    [notice] = Notification.objects.filter(kind="gift_revoked")
    assert notice.recipient_user_id == friend.pk
    assert (notice.context["serial"], notice.context["edition_size"]) == (item.serial, item.edition_size)
    for language, words in (("en", "was taken back"), ("zh-hans", "已被收回")):
        subject, body = render_email(kind="gift_revoked", language=language, context=notice.context)
        assert words in subject and str(item.serial) in subject and body


def test_a_refund_of_an_item_never_given_tells_no_gift_recipient(item):
    entitlements_revoke_lines(order_line_ids=[item.order_line_id], reason="refund")
    assert not Notification.objects.filter(kind="gift_revoked").exists()


def test_fulfilling_the_order_again_after_a_gift_creates_nothing(no_holding_period, item, friend):
    entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email)

    assert fulfilment_fulfil_order(order_id=item.order_id) == []
    assert Entitlement.objects.filter(order_line_id=item.order_line_id).count() == 2


def test_the_output_shapes_match_the_schema(no_holding_period, item, friend, client_a, api_client):
    gift = client_a.post(transfer_url(item.pk), {"to_email": friend.email}, format="json").json()
    assert_matches("TransferOutput", gift)
    for row in client_a.get("/api/v1/library/").json()["results"] + authenticated_client(friend).get(
            "/api/v1/library/").json()["results"]:
        assert_matches("LibraryItem", row)
    assert_matches("Certificate", api_client.get(f"/api/v1/certificates/{item.certificate_code}/").json())


def test_the_givers_goods_page_says_given_not_refunded(no_holding_period, item, friend, client):
    from apps.fulfilment import links

    entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email)

    page = client.get(links.goods_url(order_id=item.order_id, user_id=item.user_id)).content.decode()

    assert 'data-status="transferred"' in page
    assert "Given to another shopper" in page and "Refunded" not in page
