"""The console in a real browser (Debian's Chromium, headless, driven by Playwright; no browser
is downloaded): an operator logs in, watches the counts change as orders are placed and paid
without reloading the page, retries a fulfilment and cancels an order; exhibitor staff see only
their own numbers. Saves test-output/ops-console.png."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.notifications.models import Notification, NotificationStatus
from apps.orders import services as order_services
from apps.orders.models import Order, OrderStatus
from apps.payments.models import WebhookEvent, WebhookStatus
from tests.browser import WAIT_MS, needs_chromium
from tests.factories import PASSWORD, place_order

SCREENSHOT = Path(django_settings.BASE_DIR) / "test-output" / "ops-console.png"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture(autouse=True)
def sent_tasks(settings, monkeypatch):
    settings.OPS_REFRESH_SECONDS = 1
    # The live server runs in this process: a retried fulfilment must not put a real message on
    # the shared broker for an order that exists only in the test database.
    from config.celery import app

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **kwargs: sent.append((name, kwargs)))
    return sent


def _login(browser, live_server, email):
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(f"{live_server.url}/ops/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server.url}/ops/", timeout=WAIT_MS)
    return page


def _count(queue: str, value: int) -> str:
    return f'#queue-{queue} .count[data-count="{value}"]'


def test_operator_watches_counts_change_and_acts(browser, live_server, operator, shopper, staff_a, product_a, product_b,
                                                 sent_tasks):
    # Given an operator on the console with nothing queued
    page = _login(browser, live_server, operator.email)
    page.wait_for_selector(_count("pending_payment", 0))
    marker = page.evaluate("() => { window.__notReloaded = true; return true; }")

    # When shoppers place two orders, the pending count goes to 2 without a reload
    first = place_order(shopper, (product_a, 1))
    second = place_order(shopper, (product_b, 2))
    page.wait_for_selector(_count("pending_payment", 2), timeout=WAIT_MS)

    # and when one is paid, it moves on to fulfilment (no worker runs here, so it stays there)
    order_services.order_mark_paid(order_id=first.pk)
    page.wait_for_selector(_count("fulfilling", 1), timeout=WAIT_MS)
    page.wait_for_selector(_count("pending_payment", 1), timeout=WAIT_MS)
    assert page.evaluate("() => window.__notReloaded === true") is marker

    # When fulfilment of the paid order fails, it needs attention; the operator retries it
    order_services.order_flag_attention(order_id=first.pk, error="certificate signer unreachable")
    page.wait_for_selector(_count("needs_attention", 1), timeout=WAIT_MS)
    page.click('table[data-items="needs_attention"] button[data-action="fulfilment_retry"]')
    page.wait_for_selector(".msg.success", timeout=WAIT_MS)
    assert "Fulfilment re-enqueued" in page.inner_text(".messages")
    assert Order.objects.get(pk=first.pk).needs_attention is False
    assert [name for name, _ in sent_tasks] == ["fulfilment.fulfil_order"]

    # and cancels the unpaid one (confirming the dialog)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('table[data-items="pending_payment"] button[data-action="order_cancel"]')
    page.wait_for_selector(".msg.success", timeout=WAIT_MS)
    assert Order.objects.get(pk=second.pk).status == OrderStatus.CANCELLED
    page.wait_for_selector(_count("pending_payment", 0), timeout=WAIT_MS)

    # Then, with a busier expo (one order far past its hold: a breach), the screenshot shows it all
    for product in (product_a, product_b, product_a):
        place_order(shopper, (product, 1))
    late = place_order(shopper, (product_b, 1))
    Order.objects.filter(pk=late.pk).update(status_changed_at=timezone.now() - timedelta(hours=1))
    for age_minutes in (0, 10):
        paid = place_order(shopper, (product_a, 1))
        order_services.order_mark_paid(order_id=paid.pk)
        Order.objects.filter(pk=paid.pk).update(status_changed_at=timezone.now() - timedelta(minutes=age_minutes))
    WebhookEvent.objects.create(provider="stripe", event_id="evt_demo_1", type="payment_intent.succeeded", payload={},
                                status=WebhookStatus.FAILED, error="Order for pi_demo not found")
    Notification.objects.create(dedupe_key="demo-failed", kind="new_sale", exhibitor=product_a.exhibitor,
                                recipient_email="staff@alpha.test", status=NotificationStatus.FAILED,
                                last_error="SMTPRecipientsRefused: 550 mailbox unavailable")
    page.wait_for_selector(_count("pending_payment", 4), timeout=WAIT_MS)
    page.wait_for_selector(_count("webhook_events", 1), timeout=WAIT_MS)
    page.wait_for_selector("#queue-pending_payment.breached", timeout=WAIT_MS)
    assert page.locator("svg.chart polyline").count() == 3
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_exhibitor_staff_see_only_their_own_numbers(browser, live_server, staff_a, shopper, product_a, product_b):
    # Given two orders of A's product and three of B's
    for product in (product_a, product_a, product_b, product_b, product_b):
        place_order(shopper, (product, 1))

    # When A's staff open the console
    page = _login(browser, live_server, staff_a.email)

    # Then they count A's two orders, see no actions and no platform (Celery) data
    page.wait_for_selector(_count("pending_payment", 2), timeout=WAIT_MS)
    assert page.locator("button[data-action]").count() == 0
    assert page.locator("#celery").count() == 0
    assert "exhibitor view" in page.inner_text("header")
