"""The voucher endpoints over HTTP (API.md "Vouchers", "Groups (eligibility)"): shapes against the
schema, the refusals' codes, Idempotency-Key replays, tenancy (another shopper's voucher), and an
order placed with a voucher."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts import services as account_services
from apps.vouchers import services
from apps.vouchers.models import Voucher
from tests.test_output_shapes import assert_matches
from tests.vouchers.conftest import make_campaign

pytestmark = pytest.mark.django_db


def _claim(client, slug, **headers):
    return client.post(f"/api/v1/voucher-campaigns/{slug}/claim", format="json", **headers)


def test_the_public_list_shows_open_and_upcoming_campaigns_in_the_contracts_shape(api_client, operator, senior_group, pass_a):
    now = timezone.now()
    make_campaign(actor=operator, slug="open", scope_products=[pass_a])
    make_campaign(actor=operator, slug="senior", eligibility=senior_group, window_starts=timezone.localtime().time(),
                  window_minutes=60, claim_starts_at=now + timedelta(days=1), claim_ends_at=now + timedelta(days=3))
    make_campaign(actor=operator, slug="over", claim_starts_at=now - timedelta(days=3), claim_ends_at=now - timedelta(days=1))
    make_campaign(actor=operator, slug="paused", is_active=False)
    response = api_client.get("/api/v1/voucher-campaigns/")
    assert response.status_code == 200
    rows = {row["slug"]: row for row in response.json()["results"]}
    assert set(rows) == {"open", "senior"}
    for row in rows.values():
        assert_matches("CampaignOutput", row)
    assert rows["open"]["funder"] == {"kind": "platform", "name": "Expo"}
    assert rows["open"]["scope"] == {"exhibitors": [], "kinds": [], "products": [pass_a.pk]}
    assert (rows["open"]["remaining"], rows["open"]["next_window"], rows["open"]["eligibility"]) == (10, None, None)
    assert rows["senior"]["eligibility"] == "senior"
    assert rows["senior"]["next_window"] is not None


def test_campaign_titles_are_shown_in_the_shoppers_language_falling_back_to_english(api_client, operator):
    make_campaign(actor=operator, slug="bilingual", title_en="Expo 10 off 20", title_zh_hans="博览会满20减10")
    make_campaign(actor=operator, slug="english-only", title_en="City 10 off 20")

    def titles(language: str) -> dict[str, str]:
        rows = api_client.get("/api/v1/voucher-campaigns/", HTTP_ACCEPT_LANGUAGE=language).json()["results"]
        return {row["slug"]: row["title"] for row in rows}

    assert titles("zh-hans") == {"bilingual": "博览会满20减10", "english-only": "City 10 off 20"}
    assert titles("en") == {"bilingual": "Expo 10 off 20", "english-only": "City 10 off 20"}


def test_claim_answers_201_then_the_contracts_refusals(client_a, client_b, operator, senior_group, other_shopper):
    make_campaign(actor=operator, budget=1000)
    response = _claim(client_a, "city-10-off-20")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert_matches("VoucherOutput", body)
    assert (body["campaign"], body["status"], body["face_value"], body["min_spend"]) == ("city-10-off-20", "available", 1000, 2000)
    assert _claim(client_a, "city-10-off-20").json()["errors"][0]["code"] in ("limit_exceeded", "campaign_exhausted")
    exhausted = _claim(client_b, "city-10-off-20")
    assert (exhausted.status_code, exhausted.json()["errors"][0]["code"]) == (409, "campaign_exhausted")
    now = timezone.now()
    make_campaign(actor=operator, slug="later", claim_starts_at=now + timedelta(hours=1), claim_ends_at=now + timedelta(days=1))
    later = _claim(client_b, "later")
    assert (later.status_code, later.json()["errors"][0]["code"]) == (409, "not_claimable_now")
    make_campaign(actor=operator, slug="seniors", eligibility=senior_group)
    refused = _claim(client_b, "seniors")
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (403, "not_eligible")
    account_services.eligibility_verify(user=other_shopper, group=senior_group, actor=operator)
    assert _claim(client_b, "seniors").status_code == 201
    assert _claim(client_b, "no-such-campaign").status_code == 404


def test_limit_exceeded_over_http(client_a, operator):
    make_campaign(actor=operator)
    assert _claim(client_a, "city-10-off-20").status_code == 201
    second = _claim(client_a, "city-10-off-20")
    assert (second.status_code, second.json()["errors"][0]["code"]) == (409, "limit_exceeded")


def test_a_claim_replayed_with_its_idempotency_key_gives_the_same_voucher(client_a, operator, shopper):
    make_campaign(actor=operator, per_customer_limit=3)
    first = _claim(client_a, "city-10-off-20", HTTP_IDEMPOTENCY_KEY="claim-1")
    again = _claim(client_a, "city-10-off-20", HTTP_IDEMPOTENCY_KEY="claim-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Voucher.objects.filter(user=shopper).count() == 1


def test_claiming_needs_a_session(api_client, operator):
    make_campaign(actor=operator)
    assert _claim(api_client, "city-10-off-20").status_code == 401


def test_a_shopper_lists_only_their_own_vouchers_with_expiry_shown(client_a, operator, shopper, other_shopper):
    campaign = make_campaign(actor=operator, per_customer_limit=2)
    mine = services.voucher_claim(campaign=campaign, user=shopper)
    old = services.voucher_claim(campaign=campaign, user=shopper)
    Voucher.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.voucher_claim(campaign=campaign, user=other_shopper)
    response = client_a.get("/api/v1/vouchers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["id"] for row in rows} == {mine.pk, old.pk}
    assert {row["id"]: row["status"] for row in rows} == {mine.pk: "available", old.pk: "expired"}
    for row in rows:
        assert_matches("VoucherOutput", row)


def test_an_order_placed_with_a_voucher_over_http(client_a, client_b, operator, shopper, other_shopper, pass_a, settings):
    settings.PAYMENT_PROVIDER = "simulated"
    campaign = make_campaign(actor=operator)
    voucher = services.voucher_claim(campaign=campaign, user=shopper)
    theirs = services.voucher_claim(campaign=campaign, user=other_shopper)
    # Another shopper's voucher answers like an unknown one.
    foreign = client_a.post("/api/v1/orders/", {"lines": [{"product": pass_a.pk, "quantity": 2}], "voucher": theirs.pk},
                            format="json")
    assert (foreign.status_code, foreign.json()["errors"][0]["code"]) == (409, "voucher_not_applicable")
    below = client_a.post("/api/v1/orders/", {"lines": [{"product": pass_a.pk, "quantity": 1}], "voucher": voucher.pk},
                          format="json")
    assert (below.status_code, below.json()["errors"][0]["code"]) == (409, "voucher_not_applicable")
    placed = client_a.post("/api/v1/orders/", {"lines": [{"product": pass_a.pk, "quantity": 2}], "voucher": voucher.pk,
                                               "discount": 2999, "total": 1}, format="json")
    assert placed.status_code == 201, placed.json()
    body = placed.json()
    assert_matches("OrderOutput", body)
    assert (body["subtotal"], body["discount"], body["total"]) == (3000, 1000, 2000)
    assert body["voucher"] == {"id": voucher.pk, "campaign": campaign.slug}
    listed = client_a.get("/api/v1/orders/").json()["results"][0]
    assert (listed["discount"], listed["voucher"]) == (1000, {"id": voucher.pk, "campaign": campaign.slug})
    cancelled = client_a.post(f"/api/v1/orders/{body['id']}/cancel")
    assert cancelled.status_code == 200
    assert client_a.get("/api/v1/vouchers/").json()["results"][0]["status"] == "available"
    without = client_a.post("/api/v1/orders/", {"lines": [{"product": pass_a.pk, "quantity": 1}]}, format="json").json()
    assert (without["discount"], without["voucher"]) == (0, None)
    bad = client_a.post("/api/v1/orders/", {"lines": [{"product": pass_a.pk, "quantity": 1}], "voucher": "x"}, format="json")
    assert (bad.status_code, bad.json()["errors"][0]["attr"]) == (400, "voucher")


def test_me_answers_the_shoppers_verified_groups(client_a, api_client, operator, shopper, senior_group):
    assert client_a.get("/api/v1/me/").json() == {"email": shopper.email, "language": "en", "groups": []}
    account_services.eligibility_verify(user=shopper, group=senior_group, actor=operator)
    body = client_a.get("/api/v1/me/").json()
    assert body["groups"] == ["senior"]
    assert_matches("MeOutput", body)
    assert api_client.get("/api/v1/me/").status_code == 401
