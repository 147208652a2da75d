"""A shopper with a paid order of each kind opens every link of their library in a real browser
(Debian's Chromium through Playwright, a phone-sized window, no header, no session): the file
downloads under its name, the booking page counts down and later opens the meeting, the pass QR
renders on its own and in an <img> (and scans), the certificate page shows in English and Chinese.
Screenshots: test-output/shopper-*.png."""

import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import time_machine
import zxingcpp
from django.utils import timezone
from PIL import Image

from apps.catalog.models import ServiceSlot
from apps.fulfilment import services
from apps.notifications.models import Notification
from tests.browser import SCREENSHOTS, WAIT_MS, needs_chromium, screenshot, wait_for_js
from tests.factories import authenticated_client, paid_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The live server runs in this process: notifications enqueued after commit must not reach
    # the shared broker for rows that exist only in the test database.
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, **kwargs: None)


@pytest.fixture
def meeting_site():
    """The exhibitor's meeting room, served on loopback (the test machine has no other network)."""

    class Room(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>Meeting</title><h1>Meeting room 42</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Room)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/room-42"
    server.shutdown()
    server.server_close()


def _decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def _natural_width(page, selector: str) -> int:
    wait_for_js(page, f"() => document.querySelector('{selector}') && document.querySelector('{selector}').complete")
    return int(page.eval_on_selector(selector, "img => img.naturalWidth"))


def test_shopper_opens_every_link_of_their_library(browser, live_server, settings, shopper, drop, ebook, consultation,
                                                    booth_pass, meeting_site):
    # Given a paid, fulfilled order with one unit of each kind
    settings.PUBLIC_BASE_URL = live_server.url.replace("localhost", "127.0.0.1")
    starts = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1, hours=2)
    slot = ServiceSlot.objects.create(product=consultation, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                                      capacity=2, meeting_url=meeting_site)
    order = paid_order(shopper, (drop, 1), (ebook, 1), (consultation, 1, slot), (booth_pass, 1))
    units = {u.kind: u for u in services.fulfilment_fulfil_order(order_id=order.pk)}
    items = {i["kind"]: i for i in authenticated_client(shopper).get("/api/v1/library/").json()["results"]}
    context = browser.new_context(viewport=PHONE, accept_downloads=True, extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()

    # The download link saves the file under its name, with no header
    page.set_content(f'<a id="link" href="{items["download"]["download"]["url"]}">Tea Guide</a>')
    with page.expect_download(timeout=WAIT_MS) as info:
        page.click("#link")
    download = info.value
    assert download.suggested_filename == "guide.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4 test"

    # The booking link, the day before: when, with whom, where, and a countdown
    page = context.new_page()
    booking_url = items["service"]["booking"]["access_url"]
    page.goto(booking_url)
    wait_for_js(page, "() => /\\d\\d:\\d\\d:\\d\\d/.test(document.getElementById('countdown').textContent)")
    assert "Health consult" in page.inner_text("main")
    assert f"Hall H1, booth {units['service'].exhibitor.booth}" in page.inner_text("main")
    screenshot(page, "shopper-booking")

    # and during the slot it opens the exhibitor's meeting (a stand-in meeting site on loopback)
    with time_machine.travel(slot.starts_at + timedelta(minutes=2)):
        page.goto(booking_url)
        assert page.url == meeting_site
        assert page.inner_text("h1") == "Meeting room 42"

    # The pass QR opens on its own (a standalone SVG), renders, and scans to the pass token
    page.goto(items["pass"]["pass"]["qr_svg_url"])
    assert page.evaluate("() => document.documentElement.namespaceURI") == "http://www.w3.org/2000/svg"
    png = page.screenshot(path=str(SCREENSHOTS / "shopper-pass-qr.png"))
    assert _decode(png) == [units["pass"].pass_token]
    # and in an <img>, as an app or an email shows it
    page = context.new_page()
    page.set_content(f'<img id="qr" src="{items["pass"]["pass"]["qr_svg_url"]}">')
    assert _natural_width(page, "#qr") > 0

    # The certificate page: the edition, valid, its QR (which scans to this page), how to verify
    page.goto(items["collectible"]["edition"]["certificate_url"])
    assert "Genuine and valid" in page.inner_text("main")
    assert f"#{units['collectible'].serial} of 5" in page.inner_text("main")
    assert _natural_width(page, "img.qr") > 0
    screenshot(page, "shopper-certificate")
    qr_png = page.locator("img.qr").screenshot()
    assert _decode(qr_png) == [items["collectible"]["edition"]["certificate_url"]]
    # in Chinese, from the page's language switch
    page.click("a[hreflang=zh-hans]")
    page.wait_for_selector("html[lang=zh-hans]")
    assert page.evaluate("() => document.documentElement.lang") == "zh-hans"
    screenshot(page, "shopper-certificate-zh")

    # The confirmation email's link: the whole order on one page, pass QR rendered
    confirmed = Notification.objects.get(dedupe_key__startswith=f"order:{order.pk}:confirmed", channel="email")
    page.goto(confirmed.context["library_url"] + "?lang=en")
    assert _natural_width(page, "section[data-kind=pass] img.qr") > 0
    assert page.locator("section[data-kind]").count() == 4
    screenshot(page, "shopper-goods")

    # A used-up link shows a page that says so, not an error dump
    from apps.fulfilment.models import Entitlement

    Entitlement.objects.filter(pk=units["download"].pk).update(downloads_left=0)
    response = page.goto(items["download"]["download"]["url"])
    assert response.status == 410
    assert "No downloads left" in page.inner_text("main")
    screenshot(page, "shopper-download-refused")
    context.close()
