"""Certificates, download links, passes and revocation: what refused requests count (nothing)."""

import base64
from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils import timezone

from apps.catalog.models import Edition, EditionStatus, LicenceKey, LicenceKeyStatus, Product, ServiceSlot
from apps.fulfilment import services, signing
from apps.fulfilment.models import Entitlement
from apps.orders.models import OrderLineEdition
from tests.factories import authenticated_client, paid_order

pytestmark = pytest.mark.django_db


def _fulfil(user, *lines):
    order = paid_order(user, *lines)
    return order, services.fulfilment_fulfil_order(order_id=order.pk)


def _download_url(client):
    items = client.get("/api/v1/library/").json()["results"]
    return next(i for i in items if i["kind"] == "download")["download"]["url"]


# --- Certificates ---------------------------------------------------------------------------------


def test_certificate_is_public_and_verifiable_with_the_public_key(api_client, shopper, drop):
    _order, (unit,) = _fulfil(shopper, (drop, 1))

    body = api_client.get(f"/api/v1/certificates/{unit.certificate_code}/").json()

    assert body["valid"] is True
    assert (body["product"], body["serial"], body["edition_size"]) == ("Jade Dragon", unit.serial, 5)
    assert body["key_id"] == signing.key_id()
    # anyone can check the signature offline with the published key
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
    key.verify(signing.b64url_decode(body["signature"]), body["signed_message"].encode())
    assert api_client.get(f"/api/v1/certificates/{unit.certificate_code}/qr.svg").headers["Content-Type"] == "image/svg+xml"


def test_unknown_or_tampered_certificates(api_client, shopper, drop):
    _order, (unit,) = _fulfil(shopper, (drop, 1))
    assert api_client.get("/api/v1/certificates/not-a-code/").status_code == 404
    Entitlement.objects.filter(pk=unit.pk).update(serial=1 if unit.serial != 1 else 2)  # forged in the database
    assert api_client.get(f"/api/v1/certificates/{unit.certificate_code}/").json()["valid"] is False


# --- Downloads ------------------------------------------------------------------------------------


def test_download_streams_the_file_and_counts_down(client_a, shopper, ebook):
    _order, (unit,) = _fulfil(shopper, (ebook, 1))
    url = _download_url(client_a)

    first = client_a.get(url)
    assert first.status_code == 200
    assert b"".join(first.streaming_content) == b"%PDF-1.4 test"
    assert client_a.get(url).status_code == 200
    exhausted = client_a.get(url)

    assert exhausted.status_code == 410
    assert exhausted.json()["errors"][0]["code"] == "downloads_exhausted"
    unit.refresh_from_db()
    assert unit.downloads_left == 0


# A download link is a bearer credential (it opens from a mail client with no session), so another
# shopper's session is no refusal; that tokens cannot be made from ids is tested in test_links.py.
@pytest.mark.parametrize("case", ["tampered", "expired", "revoked"])
def test_refused_download_links_count_nothing(case, client_a, shopper, ebook):
    _order, (unit,) = _fulfil(shopper, (ebook, 1))
    url = _download_url(client_a)
    if case == "tampered":
        response = client_a.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
        expected = 404
    elif case == "expired":
        with time_machine.travel(timezone.now() + timedelta(hours=2)):
            response = client_a.get(url)
        expected = 410
    else:
        services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")
        response = client_a.get(url)
        expected = 410
    assert response.status_code == expected
    unit.refresh_from_db()
    assert unit.downloads_left == 2


# --- Passes ---------------------------------------------------------------------------------------


def test_pass_is_redeemed_once_by_its_exhibitors_staff(shopper, booth_pass, staff_a, staff_b, client_a):
    _order, (unit,) = _fulfil(shopper, (booth_pass, 1))
    staff, foreign_staff = authenticated_client(staff_a), authenticated_client(staff_b)

    assert foreign_staff.post("/api/v1/passes/redeem", {"token": unit.pass_token}, format="json").status_code == 404
    assert client_a.post("/api/v1/passes/redeem", {"token": unit.pass_token}, format="json").status_code == 404
    first = staff.post("/api/v1/passes/redeem", {"token": unit.pass_token}, format="json")
    second = staff.post("/api/v1/passes/redeem", {"token": unit.pass_token}, format="json")

    assert first.status_code == 200
    assert first.json()["redeemed_at"]
    assert second.status_code == 409
    assert second.json()["errors"][0]["code"] == "already_redeemed"
    svg = client_a.get(f"/api/v1/passes/{unit.pk}/qr.svg")
    assert svg.status_code == 200
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content


def test_forged_and_altered_pass_tokens_are_not_found(shopper, booth_pass, staff_a):
    _order, (unit,) = _fulfil(shopper, (booth_pass, 1))
    staff = authenticated_client(staff_a)
    version, payload, signature = unit.pass_token.split(".")
    other_id = signing.b64url(signing.b64url_decode(payload).replace(str(unit.pk).encode(), str(unit.pk + 1).encode(), 1))
    # Alter a middle character of the signature: its 6 bits are all used, so the decoded bytes
    # always change (the last character of 64 bytes in base64 carries only 2 bits).
    middle = len(signature) // 2
    altered = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    for token in ("garbage", f"{version}.{other_id}.{signature}", f"{version}.{payload}.{altered}"):
        assert staff.post("/api/v1/passes/redeem", {"token": token}, format="json").status_code == 404
    unit.refresh_from_db()
    assert unit.redeemed_at is None


def test_revoked_or_out_of_validity_passes_answer_409(shopper, booth_pass, staff_a):
    _order, (unit,) = _fulfil(shopper, (booth_pass, 1))
    staff = authenticated_client(staff_a)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        late = staff.post("/api/v1/passes/redeem", {"token": unit.pass_token}, format="json")
    assert late.status_code == 409
    assert late.json()["errors"][0]["code"] == "pass_not_valid_now"
    services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")
    revoked = staff.post("/api/v1/passes/redeem", {"token": unit.pass_token}, format="json")
    assert revoked.status_code == 409
    assert revoked.json()["errors"][0]["code"] == "pass_revoked"


# --- Revocation -----------------------------------------------------------------------------------


def test_revocation_of_every_kind_releases_inventory_once(api_client, shopper, drop, ebook, software, slot, booth_pass):
    order, units = _fulfil(shopper, (drop, 1), (ebook, 1), (software, 1), (slot.product, 1, slot), (booth_pass, 1))
    cert = next(u for u in units if u.kind == "collectible")
    line_ids = list(order.lines.values_list("id", flat=True))
    before = {p.pk: p.stock_taken for p in Product.objects.filter(pk__in=[ebook.pk, booth_pass.pk])}

    revoked = services.entitlements_revoke_lines(order_line_ids=line_ids, reason="refund")
    again = services.entitlements_revoke_lines(order_line_ids=line_ids, reason="refund")

    assert (revoked, again) == (5, 0)
    assert set(Entitlement.objects.filter(order=order).values_list("status", flat=True)) == {"revoked"}
    assert api_client.get(f"/api/v1/certificates/{cert.certificate_code}/").json()["valid"] is False
    assert Edition.objects.get(pk=cert.edition_id).status == EditionStatus.AVAILABLE
    assert not OrderLineEdition.objects.filter(edition_id=cert.edition_id).exists()
    assert ServiceSlot.objects.get(pk=slot.pk).taken == 0
    after = {p.pk: p.stock_taken for p in Product.objects.filter(pk__in=[ebook.pk, booth_pass.pk])}
    assert after == {pk: taken - 1 for pk, taken in before.items()}
    # the licence key is not reissued to the pool
    key = next(u for u in units if u.product_id == software.pk).licence_key_id
    assert LicenceKey.objects.get(pk=key).status == LicenceKeyStatus.ASSIGNED
    # the library shows them revoked, without live links or tokens
    items = authenticated_client(shopper).get("/api/v1/library/").json()["results"]
    assert {i["status"] for i in items} == {"revoked"}
    assert next(i for i in items if i["kind"] == "pass")["pass"]["token"] is None
    assert next(i for i in items if i["kind"] == "service")["booking"]["access_url"] is None


def test_revoking_before_fulfilment_blocks_a_late_delivery(shopper, drop):
    from apps.orders.models import Order, OrderStatus

    order = paid_order(shopper, (drop, 1))
    line_id = order.lines.get().pk
    assert services.entitlements_revoke_lines(order_line_ids=[line_id], reason="refund") == 1
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PARTIALLY_REFUNDED)

    assert services.fulfilment_fulfil_order(order_id=order.pk) == []
    assert Entitlement.objects.get(order=order).status == "revoked"
