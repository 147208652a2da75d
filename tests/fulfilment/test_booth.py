"""The booth: redemptions synced from a device (service), the lookup, pass list and batch calls
(API, tenancy, CSRF), the /booth/ page's access rules, and demo passes valid on the demo day."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apps.catalog.models import Product, ProductKind
from apps.fulfilment import services, signing
from apps.fulfilment.booth.selectors import mask_email
from apps.fulfilment.booth.services import RedemptionRequest, SyncStatus, pass_redeem_batch
from apps.fulfilment.models import Entitlement
from tests.factories import PASSWORD, ProductFactory, ShopperFactory, UserFactory, authenticated_client, paid_order

pytestmark = pytest.mark.django_db


def _pass_of(user, product):
    order = paid_order(user, (product, 1))
    (unit,) = services.fulfilment_fulfil_order(order_id=order.pk)
    return unit


@pytest.fixture
def pass_a(shopper, booth_pass):
    return _pass_of(shopper, booth_pass)


@pytest.fixture
def pass_b(other_shopper, exhibitor_b):
    now = timezone.now()
    product = ProductFactory(exhibitor=exhibitor_b, pass_=True, title="Bravo lounge",
                             pass_valid_from=now - timedelta(hours=1), pass_valid_until=now + timedelta(days=1))
    return _pass_of(other_shopper, product)


def _row(unit):
    return Entitlement.objects.values("redeemed_at", "redeemed_by_id", "status").get(pk=unit.pk)


# --- The batch sync service -------------------------------------------------------------------------


def test_a_queued_redemption_is_recorded_at_the_device_time(staff_a, pass_a):
    # given a redemption made offline ten minutes ago
    admitted = timezone.now() - timedelta(minutes=10)

    # when the device syncs it
    (result,) = pass_redeem_batch(user=staff_a, items=[RedemptionRequest(token=pass_a.pass_token, redeemed_at=admitted,
                                                                         client_id="q1")])

    # then it is redeemed, at the device's time, by that staff member
    assert (result.status, result.client_id, result.pass_id) == (SyncStatus.REDEEMED, "q1", pass_a.pk)
    assert result.holder == "a*@shopper.test"  # no name given: the email, masked
    assert mask_email("shopper@expo.test") == "s*****r@expo.test"
    assert result.product == "VR booth"
    assert _row(pass_a) == {"redeemed_at": admitted, "redeemed_by_id": staff_a.pk, "status": "active"}


def test_the_same_pass_twice_in_one_batch_is_a_conflict_and_redeemed_once(staff_a, pass_a):
    # given one pass queued twice on a device (two scans while offline)
    first, second = timezone.now() - timedelta(minutes=5), timezone.now() - timedelta(minutes=2)
    items = [RedemptionRequest(token=pass_a.pass_token, redeemed_at=first, client_id="q1"),
             RedemptionRequest(token=pass_a.pass_token, redeemed_at=second, client_id="q2")]

    # when the batch is synced
    results = pass_redeem_batch(user=staff_a, items=items)

    # then the first is redeemed, the second is a duplicate naming the first's time
    assert [(r.client_id, r.status) for r in results] == [("q1", "redeemed"), ("q2", "duplicate")]
    assert results[1].redeemed_at == first
    assert _row(pass_a)["redeemed_at"] == first


def test_a_pass_redeemed_elsewhere_is_a_conflict_and_nothing_changes(staff_a, exhibitor_a, pass_a):
    # given a pass already redeemed at another device of the booth
    colleague = UserFactory(email="colleague@alpha.test")
    from apps.exhibitors.services import exhibitor_member_add

    exhibitor_member_add(exhibitor=exhibitor_a, user=colleague)
    services.pass_redeem(token=pass_a.pass_token, user=colleague)
    before = _row(pass_a)

    # when this device syncs its own offline redemption of it
    (result,) = pass_redeem_batch(user=staff_a, items=[
        RedemptionRequest(token=pass_a.pass_token, redeemed_at=timezone.now() - timedelta(minutes=1))])

    # then it is told when it was redeemed, and the row is untouched
    assert result.status == SyncStatus.ALREADY_REDEEMED
    assert result.redeemed_at == before["redeemed_at"]
    assert _row(pass_a) == before


def test_another_exhibitors_pass_is_not_found_and_nothing_changes(staff_a, operator, exhibitor_a, pass_a, pass_b):
    # given A's staff holding B's pass, and an operator running A's booth
    at = timezone.now()

    # when each syncs it
    (as_staff,) = pass_redeem_batch(user=staff_a, items=[RedemptionRequest(token=pass_b.pass_token, redeemed_at=at)])
    (at_a_booth,) = pass_redeem_batch(user=operator, exhibitor_id=exhibitor_a.pk,
                                      items=[RedemptionRequest(token=pass_b.pass_token, redeemed_at=at)])

    # then both are not_found, saying nothing about the pass, and it stays unredeemed
    assert (as_staff.status, as_staff.pass_id, as_staff.holder, as_staff.product) == ("not_found", None, "", "")
    assert at_a_booth.status == "not_found"
    assert _row(pass_b)["redeemed_at"] is None


def test_forged_revoked_and_out_of_window_items_change_nothing(staff_a, pass_a, shopper, booth_pass):
    # given a forged token, a refunded pass and a pass admitted (device time) before it was valid
    revoked = _pass_of(shopper, booth_pass)
    services.entitlements_revoke_lines(order_line_ids=[revoked.order_line_id], reason="refund")
    version, payload, signature = pass_a.pass_token.split(".")
    forged = ".".join([version, signing.b64url(signing.b64url_decode(payload) + b"0"), signature])
    now = timezone.now()

    # when they are synced with an honest one whose clock ran far ahead
    results = pass_redeem_batch(user=staff_a, now=now, items=[
        RedemptionRequest(token=forged, redeemed_at=now),
        RedemptionRequest(token=revoked.pass_token, redeemed_at=now),
        RedemptionRequest(token=pass_a.pass_token, redeemed_at=now + timedelta(hours=1)),
        RedemptionRequest(token=pass_a.pass_token, redeemed_at=pass_a.valid_from - timedelta(minutes=1)),
    ])

    # then each is refused for its reason and no pass is redeemed
    assert [r.status for r in results] == ["not_found", "revoked", "invalid_time", "not_valid_now"]
    assert not Entitlement.objects.filter(redeemed_at__isnull=False).exists()


def test_a_retried_sync_is_idempotent(staff_a, pass_a):
    # given a batch whose answer the device never received
    items = [RedemptionRequest(token=pass_a.pass_token, redeemed_at=timezone.now() - timedelta(seconds=30), client_id="q1")]
    pass_redeem_batch(user=staff_a, items=items)
    before = _row(pass_a)

    # when the device sends it again
    (again,) = pass_redeem_batch(user=staff_a, items=items)

    # then it is still "redeemed" (not a conflict), and nothing changed
    assert again.status == SyncStatus.REDEEMED
    assert _row(pass_a) == before


# --- The API: lookup, pass list, batch ----------------------------------------------------------------


def test_lookup_shows_holder_product_validity_and_redemption(staff_a, pass_a, pass_b):
    client = authenticated_client(staff_a)

    # when A's staff look up A's pass
    body = client.post("/api/v1/passes/lookup", {"token": pass_a.pass_token, "exhibitor": "alpha"}, format="json").json()

    # then they see who and what, not yet redeemed
    assert body["id"] == pass_a.pk
    assert (body["state"], body["holder"], body["product"], body["exhibitor"]) == (
        "valid", "a*@shopper.test", "VR booth", "alpha")
    assert body["valid_from"] and body["valid_until"] and body["redeemed_at"] is None

    # and after it is redeemed, the lookup says so
    services.pass_redeem(token=pass_a.pass_token, user=staff_a)
    again = client.post("/api/v1/passes/lookup", {"token": pass_a.pass_token}, format="json").json()
    assert again["state"] == "redeemed" and again["redeemed_at"]

    # and B's pass, or A's pass asked for at B's booth, is not found
    assert client.post("/api/v1/passes/lookup", {"token": pass_b.pass_token}, format="json").status_code == 404
    assert client.post("/api/v1/passes/lookup", {"token": pass_a.pass_token, "exhibitor": "bravo"},
                       format="json").status_code == 404


def test_pass_list_holds_the_booths_passes_only(staff_a, operator, pass_a, pass_b):
    # when A's staff fetch A's list, and B's
    own = authenticated_client(staff_a).get("/api/v1/passes/roster?exhibitor=alpha")
    foreign = authenticated_client(staff_a).get("/api/v1/passes/roster?exhibitor=bravo")

    # then A's list has A's pass only; B's list is not found for them but open to operators
    assert own.status_code == 200
    body = own.json()
    assert body["exhibitor"] == {"slug": "alpha", "name": "Alpha", "hall": "H1", "booth": body["exhibitor"]["booth"]}
    assert body["key_id"] == signing.key_id()
    assert [(p["id"], p["holder"], p["state"]) for p in body["passes"]] == [(pass_a.pk, "a*@shopper.test", "valid")]
    assert foreign.status_code == 404
    assert [p["id"] for p in authenticated_client(operator).get("/api/v1/passes/roster?exhibitor=bravo").json()["passes"]] == [pass_b.pk]


def test_batch_call_answers_per_item_and_needs_csrf_with_a_session(staff_a, pass_a, pass_b):
    # given A's staff signed in with a session, as on the booth page
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_a)
    page = client.get("/booth/")
    token = page.cookies["csrftoken"].value
    at = timezone.now().isoformat()
    body = {"exhibitor": "alpha", "items": [{"id": "q1", "token": pass_a.pass_token, "redeemed_at": at},
                                            {"id": "q2", "token": pass_a.pass_token, "redeemed_at": at},
                                            {"id": "q3", "token": pass_b.pass_token, "redeemed_at": at}]}

    # when the page posts without the CSRF token, nothing happens
    refused = client.post("/api/v1/passes/redeem-batch", body, content_type="application/json")
    assert refused.status_code == 403
    assert _row(pass_a)["redeemed_at"] is None

    # and with it, each item gets its own answer
    response = client.post("/api/v1/passes/redeem-batch", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [("q1", "redeemed"), ("q2", "duplicate"), ("q3", "not_found")]
    assert results[0]["holder"] == "a*@shopper.test" and results[0]["product"] == "VR booth"
    assert Entitlement.objects.filter(redeemed_at__isnull=False).count() == 1


def test_booth_calls_need_a_sign_in(api_client, pass_a):
    assert api_client.post("/api/v1/passes/lookup", {"token": pass_a.pass_token}, format="json").status_code == 401
    assert api_client.get("/api/v1/passes/roster?exhibitor=alpha").status_code == 401


# --- The page --------------------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back():
    response = Client().get("/booth/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/booth/"


def test_someone_who_is_not_exhibitor_staff_gets_a_clear_page():
    client = Client()
    client.force_login(ShopperFactory(email="visitor@example.test"))

    response = client.get("/booth/")

    assert response.status_code == 403
    text = response.content.decode()
    assert "This page is for exhibitor staff" in text
    assert "visitor@example.test" in text and "Sign out" in text


def test_staff_open_their_booth_with_the_public_key(staff_a, exhibitor_a):
    client = Client()
    client.post("/admin/login/", {"username": staff_a.email, "password": PASSWORD})

    response = client.get("/booth/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "Alpha" in text and f"Hall H1 · Booth {exhibitor_a.booth}" in text
    assert signing.public_key_b64() in text and signing.key_id() in text
    assert response["Cache-Control"].startswith("max-age=0")


def test_operators_choose_a_booth_and_unknown_booths_are_not_found(operator, exhibitor_a, exhibitor_b, staff_a):
    client = Client()
    client.force_login(operator)

    chooser = client.get("/booth/").content.decode()
    assert "Which booth are you at?" in chooser and "?exhibitor=alpha" in chooser and "?exhibitor=bravo" in chooser
    assert "Bravo" in client.get("/booth/?exhibitor=bravo").content.decode()
    staff = Client()
    staff.force_login(staff_a)
    assert staff.get("/booth/?exhibitor=bravo").status_code == 404


def test_the_service_worker_may_control_the_booth_page():
    response = Client().get("/booth/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/booth/"
    assert "/static/booth/" in response.content.decode()


# --- The demo ---------------------------------------------------------------------------------------------


def test_demo_passes_are_valid_all_demo_day_until_the_end_of_the_expo():
    from apps.catalog.management.demo import demo_load

    # given the demo loaded early in the morning, Shanghai time, and loaded again later
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 11, 26, 7, 30, tzinfo=shanghai)
    with time_machine.travel(now, tick=False):
        demo_load()
    with time_machine.travel(now + timedelta(hours=3), tick=False):
        demo_load()

    # then every pass is valid from the start of that day to the expo's last evening
    passes = Product.objects.filter(kind=ProductKind.PASS)
    assert passes.count() >= 3
    for product in passes:
        assert product.pass_valid_from == datetime(2026, 11, 26, 0, 0, tzinfo=shanghai)
        assert product.pass_valid_until == datetime(2026, 11, 29, 18, 0, tzinfo=shanghai)
