"""Every link a shopper receives opens where it is opened: no header, the signed token is the
credential, absolute links on PUBLIC_BASE_URL, pages in Chinese or English, no-store where a
response carries a credential. And fulfilment never marks "fulfilled" a download delivering nothing."""

import re
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
import time_machine
from django.core.signing import TimestampSigner
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog.models import ServiceSlot
from apps.fulfilment import services, signing
from apps.fulfilment.models import Entitlement
from apps.fulfilment.tasks import fulfil_order
from apps.notifications.models import Notification
from apps.orders.models import Order, OrderStatus
from tests.factories import ProductFactory, add_download_file, authenticated_client, paid_order

pytestmark = pytest.mark.django_db

BASE = "https://expo.example"
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(autouse=True)
def _public_base(settings):
    settings.PUBLIC_BASE_URL = BASE


def _fulfil(user, *lines):
    order = paid_order(user, *lines)
    return order, services.fulfilment_fulfil_order(order_id=order.pk)


def _library(client):
    response = client.get("/api/v1/library/")
    assert response.status_code == 200
    return response, response.json()["results"]


def _path(url: str) -> str:
    assert url.startswith(BASE + "/"), url
    return url[len(BASE):]


def _add_file(product, *, name, stored, content=b"%PDF-1.4 guide"):
    """A file whose display name (what the exhibitor typed) and stored name differ."""
    from django.core.files.base import ContentFile

    from apps.catalog import services as catalog_services
    from apps.catalog.models import DownloadFile

    download_file = DownloadFile(product=product, name=name)
    download_file.file.save(stored, ContentFile(content), save=False)
    return catalog_services.download_file_save(download_file=download_file)


def _download(client, url, **extra):
    response = client.get(_path(url), **extra)
    return response, (b"".join(response.streaming_content) if response.status_code == 200 else response.content)


# --- Downloads --------------------------------------------------------------------------------------


def test_download_link_opens_without_a_header_with_its_name_extension_and_type(client_a, shopper, exhibitor_a):
    # Given a download whose display name has no extension (the stored file is a PDF)
    product = ProductFactory(exhibitor=exhibitor_a, download_limit=2, title="Tea Guide")
    _add_file(product, name="Tea Guide", stored="tea-guide.pdf")
    _order, (unit,) = _fulfil(shopper, (product, 1))
    response, items = _library(client_a)
    download = items[0]["download"]

    # When the link is opened by a browser or a mail client: no session, no header
    opened, body = _download(APIClient(), download["url"], **HTML)

    # Then the file arrives with its name, extension and type, and one download is counted
    assert opened.status_code == 200
    assert body == b"%PDF-1.4 guide"
    assert opened["Content-Type"] == "application/pdf"
    assert opened["Content-Disposition"] == "attachment; filename=\"Tea Guide.pdf\"; filename*=UTF-8''Tea%20Guide.pdf"
    assert "no-store" in opened["Cache-Control"]
    assert download["files"] == [{"name": "Tea Guide", "url": download["url"]}]
    unit.refresh_from_db()
    assert unit.downloads_left == 1
    assert "no-store" in response["Cache-Control"]


def test_a_chinese_file_name_survives_in_utf8(shopper, client_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, title="茶道")
    add_download_file(product, name="茶道指南.epub", content=b"PK\x03\x04epub")
    _fulfil(shopper, (product, 1))
    _response, items = _library(client_a)

    opened, _body = _download(APIClient(), items[0]["download"]["url"])

    disposition = opened["Content-Disposition"]
    assert disposition.startswith('attachment; filename="download.epub"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "茶道指南.epub"
    assert opened["Content-Type"] == "application/epub+zip"


def test_head_checks_a_link_without_counting(shopper, client_a, ebook):
    _order, (unit,) = _fulfil(shopper, (ebook, 1))
    _response, items = _library(client_a)

    head = APIClient().head(_path(items[0]["download"]["url"]))

    assert head.status_code == 200
    assert head["Content-Disposition"].startswith('attachment; filename="guide.pdf"')
    unit.refresh_from_db()
    assert unit.downloads_left == 2


@pytest.mark.parametrize("case", ["forged", "expired", "exhausted", "revoked"])
def test_refused_links_show_a_page_to_browsers_and_json_to_apps_and_count_nothing(case, shopper, client_a, ebook):
    _order, (unit,) = _fulfil(shopper, (ebook, 1))
    _response, items = _library(client_a)
    url = items[0]["download"]["url"]
    expected = {"forged": (404, "not_found"), "expired": (410, "link_expired"),
                "exhausted": (410, "downloads_exhausted"), "revoked": (410, "revoked")}[case]
    if case == "forged":
        url = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    elif case == "exhausted":
        Entitlement.objects.filter(pk=unit.pk).update(downloads_left=0)
    elif case == "revoked":
        services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")
    left_before = Entitlement.objects.get(pk=unit.pk).downloads_left
    travel = time_machine.travel(timezone.now() + timedelta(hours=2)) if case == "expired" else None
    if travel:
        travel.start()
    try:
        page, page_body = _download(APIClient(), url, **HTML)
        api, _ = _download(APIClient(), url, HTTP_ACCEPT="application/json")
        bare, _ = _download(APIClient(), url)
    finally:
        if travel:
            travel.stop()

    # A browser gets a page that says what happened, in its language
    assert page.status_code == expected[0]
    assert page["Content-Type"].startswith("text/html")
    assert f'data-code="{expected[1]}"' in page_body.decode()
    assert "Traceback" not in page_body.decode()
    # an app (JSON or no preference) the contract's error
    for response in (api, bare):
        assert response.status_code == expected[0]
        assert response.json()["errors"][0]["code"] == expected[1]
        assert "no-store" in response["Cache-Control"]
    # and nothing was counted
    assert Entitlement.objects.get(pk=unit.pk).downloads_left == left_before


def test_refusal_page_in_chinese(shopper, client_a, ebook):
    _order, (unit,) = _fulfil(shopper, (ebook, 1))
    _response, items = _library(client_a)
    services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")

    page, body = _download(APIClient(), items[0]["download"]["url"], HTTP_ACCEPT_LANGUAGE="zh-hans", **HTML)

    assert page.status_code == 410
    assert page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in body.decode()


def test_tokens_cannot_be_derived_from_ids(shopper, other_shopper, client_a, ebook):
    # Given A's download and everything a shopper can see about it (ids, the file id)
    _order, (unit,) = _fulfil(shopper, (ebook, 1))
    _response, items = _library(client_a)
    token = _path(items[0]["download"]["url"]).rsplit("/", 1)[1]
    file_id = ebook.files.get().pk

    # The token carries no secret of the entitlement (its nonce stays on the server)
    assert unit.nonce not in token
    # A token made from the ids without the server's key opens nothing, nor one re-pointed at
    # another entitlement, nor one signed with another purpose's salt
    value = token.rsplit(":", 2)[0]
    guesses = [
        TimestampSigner(key="not-the-secret", salt=services.DOWNLOAD_SALT).sign(value),
        TimestampSigner(salt=services.DOWNLOAD_SALT).sign(value).replace(f"{unit.pk}.", f"{unit.pk + 1}.", 1),
        TimestampSigner(salt="fulfilment.link.booking").sign(f"{unit.pk}.{file_id}.{signing.nonce_tag(unit.nonce)}"),
        f"{unit.pk}.{file_id}.{signing.nonce_tag(unit.nonce)}",
    ]
    for guess in guesses:
        assert APIClient().get(f"/api/v1/downloads/{guess}").status_code == 404
    assert Entitlement.objects.get(pk=unit.pk).downloads_left == 2
    # The real link is the credential: whoever holds it downloads (with or without a session)
    assert authenticated_client(other_shopper).get(f"/api/v1/downloads/{token}").status_code == 200


def test_two_links_of_one_download_share_one_count(shopper, client_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, download_limit=1)
    add_download_file(product, name="a.pdf")
    add_download_file(product, name="b.zip", content=b"PK")
    _fulfil(shopper, (product, 1))
    _response, items = _library(client_a)
    first, second = (f["url"] for f in items[0]["download"]["files"])

    assert _download(APIClient(), second)[0]["Content-Type"] == "application/zip"
    assert _download(APIClient(), first)[0].status_code == 410


# --- Library --------------------------------------------------------------------------------------


def test_every_library_link_is_on_the_public_base_url_whatever_the_host(settings, shopper, drop, ebook, slot, booth_pass):
    settings.ALLOWED_HOSTS = ["*"]
    _fulfil(shopper, (drop, 1), (ebook, 1), (slot.product, 1, slot), (booth_pass, 1))
    client = authenticated_client(shopper)

    response = client.get("/api/v1/library/", HTTP_HOST="attacker.example")

    text = response.content.decode()
    assert "attacker.example" not in text
    urls = re.findall(r'"(https?://[^"]+)"', text)
    assert len(urls) == 6  # certificate, booking, download (+ its file), pass QR svg and png
    assert all(url.startswith(BASE + "/") for url in urls)
    item = next(i for i in response.json()["results"] if i["kind"] == "collectible")
    assert item["edition"]["certificate_url"] == f"{BASE}/certificates/{item['edition']['certificate_code']}/"


def test_library_item_is_the_owners_only_and_not_stored(shopper, client_a, client_b, ebook):
    _order, (unit,) = _fulfil(shopper, (ebook, 1))

    own = client_a.get(f"/api/v1/library/{unit.pk}/")

    assert own.status_code == 200
    assert own.json()["download"]["downloads_left"] == 2
    assert "no-store" in own["Cache-Control"]
    assert client_b.get(f"/api/v1/library/{unit.pk}/").status_code == 404
    assert APIClient().get(f"/api/v1/library/{unit.pk}/").status_code == 401


# --- Bookings -------------------------------------------------------------------------------------


@pytest.fixture
def booked(shopper, consultation):
    starts = timezone.now().replace(microsecond=0) + timedelta(days=1)
    slot = ServiceSlot.objects.create(product=consultation, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                                      capacity=2, meeting_url="https://meet.example/room-42")
    _order, (unit,) = _fulfil(shopper, (consultation, 1, slot))
    _response, items = _library(authenticated_client(shopper))
    return unit, slot, _path(items[0]["booking"]["access_url"])


def test_booking_link_before_the_slot_says_when_with_a_countdown(booked):
    unit, slot, path = booked

    page = APIClient().get(path, HTTP_ACCEPT_LANGUAGE="en")

    body = page.content.decode()
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert 'data-state="upcoming"' in body
    assert "Health consult" in body and "Alpha" in body and f"booth {unit.exhibitor.booth}" in body
    assert 'id="countdown"' in body
    assert timezone.localtime(slot.starts_at).strftime("%H:%M") in body
    assert "meet.example" not in body  # the meeting link is given only at the time


def test_booking_link_in_chinese(booked):
    _unit, _slot, path = booked

    page = APIClient().get(path + "?lang=zh-hans")

    assert page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in page.content.decode()


@pytest.mark.parametrize("minutes", [-9, 0, 29])
def test_booking_link_during_the_slot_opens_the_meeting(booked, minutes):
    _unit, slot, path = booked

    with time_machine.travel(slot.starts_at + timedelta(minutes=minutes)):
        response = APIClient().get(path)

    assert response.status_code == 302
    assert response["Location"] == "https://meet.example/room-42"
    assert "no-store" in response["Cache-Control"]


def test_the_products_meeting_link_serves_slots_without_one(booked):
    _unit, slot, path = booked
    ServiceSlot.objects.filter(pk=slot.pk).update(meeting_url="")
    slot.product.meeting_url = "https://meet.example/product-room"
    slot.product.save(update_fields=["meeting_url"])

    with time_machine.travel(slot.starts_at):
        assert APIClient().get(path)["Location"] == "https://meet.example/product-room"


def test_booking_without_a_meeting_link_says_the_exhibitor_will_share_it(booked):
    _unit, slot, path = booked
    ServiceSlot.objects.filter(pk=slot.pk).update(meeting_url="")

    with time_machine.travel(slot.starts_at + timedelta(minutes=5)):
        page = APIClient().get(path)

    assert page.status_code == 200
    assert 'data-state="open"' in page.content.decode()
    assert "will share the meeting link" in page.content.decode()


def test_booking_link_after_the_slot_says_it_ended(booked):
    _unit, slot, path = booked

    with time_machine.travel(slot.ends_at + timedelta(minutes=1)):
        page = APIClient().get(path)

    assert page.status_code == 200
    assert 'data-state="ended"' in page.content.decode()


def test_refunded_and_forged_booking_links(booked):
    unit, slot, path = booked
    forged = path[:-5] + ("A" if path[-5] != "A" else "B") + path[-4:]
    assert APIClient().get(forged).status_code == 404

    services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")
    with time_machine.travel(slot.starts_at):
        page = APIClient().get(path)

    assert page.status_code == 410
    assert 'data-state="cancelled"' in page.content.decode()


# --- Certificates -----------------------------------------------------------------------------------


def test_certificate_page_in_english(shopper, client_a, drop):
    _order, (unit,) = _fulfil(shopper, (drop, 1))
    _response, (item,) = _library(client_a)

    page = APIClient().get(_path(item["edition"]["certificate_url"]), HTTP_ACCEPT_LANGUAGE="en")

    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-valid="true"' in body
    for text in ("Jade Dragon", "Alpha", f"#{unit.serial} of 5", "Genuine and valid", "Verify it yourself",
                 unit.certificate_signature, signing.public_key_b64(), "openssl pkeyutl -verify",
                 f"/api/v1/certificates/{unit.certificate_code}/qr.svg"):
        assert text in body, text


def test_certificate_page_in_chinese(shopper, drop):
    # the Chinese title (a `title_zh` column, or modeltranslation's `title_zh_hans`)
    field = "title_zh_hans" if hasattr(drop, "title_zh_hans") else "title_zh"
    type(drop).objects.filter(pk=drop.pk).update(**{field: "玉龙"})
    _order, (unit,) = _fulfil(shopper, (drop, 1))

    page = APIClient().get(f"/certificates/{unit.certificate_code}/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    body = page.content.decode()
    assert page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in body
    assert "玉龙" in body and "Jade Dragon" not in body
    assert unit.certificate_signature in body


def test_revoked_certificate_page_says_so(shopper, drop):
    _order, (unit,) = _fulfil(shopper, (drop, 1))
    services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")

    page = APIClient().get(f"/certificates/{unit.certificate_code}/")

    assert page.status_code == 200
    assert 'data-valid="false"' in page.content.decode()
    assert "Revoked on" in page.content.decode()


def test_the_api_keeps_answering_json_and_sends_browsers_to_the_page(shopper, drop):
    _order, (unit,) = _fulfil(shopper, (drop, 1))

    api = APIClient().get(f"/api/v1/certificates/{unit.certificate_code}/")
    browser = APIClient().get(f"/api/v1/certificates/{unit.certificate_code}/", **HTML)

    assert api.json()["valid"] is True
    assert browser.status_code == 302
    assert browser["Location"] == f"{BASE}/certificates/{unit.certificate_code}/"


@pytest.mark.parametrize("code", ["not-a-code", "x" * 41, "%00", "A" * 22])
def test_unknown_certificates_get_the_same_404_page(code, shopper, drop):
    _fulfil(shopper, (drop, 1))
    page = APIClient().get(f"/certificates/{code}/")
    assert page.status_code == 404
    assert "Nothing here" in page.content.decode()
    assert code not in page.content.decode()


# --- Pass QR links ----------------------------------------------------------------------------------


def test_pass_qr_link_opens_without_a_header_and_dies_with_a_refund(shopper, client_a, booth_pass):
    _order, (unit,) = _fulfil(shopper, (booth_pass, 1))
    _response, (item,) = _library(client_a)
    svg_url, png_url = item["pass"]["qr_svg_url"], item["pass"]["qr_png_url"]

    svg = APIClient().get(_path(svg_url))
    png = APIClient().get(_path(png_url))

    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert "no-store" in svg["Cache-Control"]
    # the owner's route with the session answers the same picture
    assert client_a.get(f"/api/v1/passes/{unit.pk}/qr.svg").content == svg.content
    forged = _path(svg_url).replace(f"/passes/{unit.pk}.", f"/passes/{unit.pk + 1}.")
    assert APIClient().get(forged).status_code == 404

    services.entitlements_revoke_lines(order_line_ids=[unit.order_line_id], reason="refund")
    assert APIClient().get(_path(svg_url)).status_code in (404, 410)
    assert client_a.get(f"/api/v1/passes/{unit.pk}/qr.svg").status_code == 410


# --- The confirmation email's link ------------------------------------------------------------------


def test_the_confirmation_email_links_to_a_page_of_the_orders_goods(shopper, ebook, booth_pass, drop):
    order, _units = _fulfil(shopper, (ebook, 1), (booth_pass, 1), (drop, 1))
    confirmed = Notification.objects.get(dedupe_key__startswith=f"order:{order.pk}:confirmed", channel="email")
    link = confirmed.context["library_url"]

    page = APIClient().get(_path(link), HTTP_ACCEPT_LANGUAGE="en")

    body = page.content.decode()
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert order.number in body
    assert {"download", "pass", "collectible"} <= set(re.findall(r'data-kind="(\w+)"', body))
    download_url = re.search(r'href="(https://expo\.example/api/v1/downloads/[^"]+)"', body).group(1)
    assert _download(APIClient(), download_url.replace("&amp;", "&"))[0].status_code == 200
    # a forged or re-pointed link shows nothing
    assert APIClient().get(_path(link)[:-3] + "xyz/").status_code == 404
    assert urlsplit(link).netloc == "expo.example"


# --- Fulfilment never delivers nothing --------------------------------------------------------------


def test_a_download_with_no_file_and_no_key_flags_the_order_instead_of_fulfilling(shopper, exhibitor_a, operator):
    empty = ProductFactory(exhibitor=exhibitor_a, title="Nothing inside")
    order = paid_order(shopper, (empty, 1))

    with pytest.raises(Exception, match="no file and no licence key"):
        fulfil_order.run(order_id=str(order.pk))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.needs_attention
    assert not Entitlement.objects.filter(order=order).exists()
    assert Notification.objects.filter(kind="operator_attention", recipient_user=operator).count() == 1
    assert not Order.objects.filter(pk=order.pk, status=OrderStatus.FULFILLED).exists()

    # once the exhibitor adds the file, an operator's retry delivers it
    add_download_file(empty)
    services.fulfilment_retry(order_id=order.pk, actor=operator)
    services.fulfilment_fulfil_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
