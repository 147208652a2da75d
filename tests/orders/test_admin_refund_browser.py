"""A shop owner's orders page and a refund that asks first, in a real browser (Debian's Chromium
through Playwright): exhibitor staff see the orders with their products (their lines and amounts
only), choose "Refund", see exactly what will go back to whom, cancel (nothing happens), then
confirm. Saves test-output/orders-staff.png and test-output/refund-confirm.png."""

import pytest

from apps.exhibitors.services import roles_ensure
from apps.orders.models import Order, OrderStatus
from apps.payments.models import Refund
from apps.payments.services import payment_create_for_order, payment_sync
from apps.payments.services.webhooks import webhook_record_simulated
from tests.browser import WAIT_MS, admin_login, needs_chromium, screenshot
from tests.factories import ProductFactory, place_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture(autouse=True)
def _offline(settings, monkeypatch):
    settings.PAYMENT_PROVIDER = "simulated"
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


def test_staff_refund_their_items_after_seeing_what_goes_back(browser, live_server, shopper, staff_a, exhibitor_a,
                                                               exhibitor_b):
    # Given a paid order with Alpha's poster and two of Bravo's prints
    roles_ensure()
    alpha = ProductFactory(exhibitor=exhibitor_a, title="Alpha Poster", price=1999)
    bravo = ProductFactory(exhibitor=exhibitor_b, title="Bravo Secret Print", price=3005)
    order = place_order(shopper, (alpha, 1), (bravo, 2))
    payment = payment_create_for_order(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    payment_sync(payment_id=payment.pk)

    # When Alpha's staff open Orders: the order is there with their share only
    page = admin_login(browser, live_server.url, staff_a.email)
    page.click('a[href="/admin/orders/order/"]')
    page.wait_for_selector("#result_list", timeout=WAIT_MS)
    listing = page.inner_text("#result_list")
    assert order.number in listing and "CNY 19.99" in listing and "80.09" not in listing
    screenshot(page, "orders-staff")

    # and choose "Refund" for it: the confirmation shows their line, the amount and the customer
    page.check("input.action-select")
    page.select_option("select[name=action]", "refund_orders")
    page.click('button[name="index"]')
    page.wait_for_selector("#refund-confirm", timeout=WAIT_MS)
    text = page.inner_text("#refund-confirm")
    assert "Alpha Poster" in text and "CNY 19.99" in text and shopper.email in text
    assert "Bravo Secret Print" not in text
    screenshot(page, "refund-confirm")

    # Cancel changes nothing
    page.click("text=Cancel, refund nothing")
    page.wait_for_selector("#result_list", timeout=WAIT_MS)
    assert not Refund.objects.exists()

    # Then, asked again and confirmed, exactly their line is refunded
    page.check("input.action-select")
    page.select_option("select[name=action]", "refund_orders")
    page.click('button[name="index"]')
    page.wait_for_selector("#refund-confirm", timeout=WAIT_MS)
    page.fill("input[name=reason]", "customer asked")
    page.click('button[name="confirm"]')
    page.wait_for_selector("#result_list", timeout=WAIT_MS)
    assert "refunded CNY 19.99" in page.inner_text("body")
    assert Refund.objects.get().amount == 1999
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED
    page.click(f"#result_list a:has-text(\"{order.number}\")")
    page.wait_for_selector("text=Alpha Poster", timeout=WAIT_MS)
    assert "Bravo Secret Print" not in page.inner_text("body")
    screenshot(page, "orders-staff-detail")
