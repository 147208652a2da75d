"""An exhibitor's staff member sets up payouts in a real browser (Debian's Chromium through
Playwright), offline: the Payouts page, the simulated onboarding page, and then the transfer of a
paid order that was waiting shows as paid out in their own list. Saves
test-output/payouts-onboarding.png and test-output/payouts-transfers.png."""

import pytest

from apps.payments.models import ConnectAccount, ConnectStatus, Transfer, TransferStatus
from apps.payments.selectors import ledger_report
from apps.payments.services import payment_create_for_order, payment_sync
from apps.payments.services.payouts import payouts_settle_order
from apps.payments.services.webhooks import webhook_record_simulated
from tests.browser import WAIT_MS, admin_login, needs_chromium, screenshot
from tests.factories import ExhibitorFactory, ProductFactory, place_order, staff_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture(autouse=True)
def _offline(settings, monkeypatch):
    settings.PAYMENT_PROVIDER = "simulated"
    # The live server runs in this process: nothing may reach the shared broker.
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


def test_staff_onboard_payouts_and_see_the_waiting_transfer_paid(browser, live_server, shopper):
    # Given an exhibitor without a payout account whose product was bought and paid for
    exhibitor = ExhibitorFactory(slug="jade", name="Jade Studio", contact_email="hello@jade.test", commission_bps=1000)
    staff = staff_of(exhibitor, email="staff@jade.test")
    product = ProductFactory(exhibitor=exhibitor, title="Jade Dragon #1", price=8800)
    order = place_order(shopper, (product, 1))
    payment = payment_create_for_order(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    payment_sync(payment_id=payment.pk)
    payouts_settle_order(order_id=order.pk)
    assert Transfer.objects.get(order=order).status == TransferStatus.AWAITING_ACCOUNT

    # When its staff member opens Payouts from the sidebar
    page = admin_login(browser, live_server.url, staff.email)
    page.click('#nav-sidebar-inner a[href="/admin/payments/connectaccount/payouts/"], '
               'nav a[href="/admin/payments/connectaccount/payouts/"]')
    page.wait_for_selector("#payouts", timeout=WAIT_MS)
    assert page.get_attribute("#payout-status", "data-status") == "none"
    assert page.get_attribute("#payouts-waiting", "data-count") == "1"
    assert "CNY 88.00" in page.inner_text("#payouts-waiting")

    # and sets up payouts: the simulated onboarding page says what it is and what will happen
    page.click('button[name="step"][value="start"]')
    page.wait_for_selector("#simulated-onboarding", timeout=WAIT_MS)
    text = page.inner_text("body")
    assert "simulation" in text and "Jade Studio" in text and "CNY 88.00" in text
    screenshot(page, "payouts-onboarding")
    page.click('button[name="step"][value="complete"]')

    # Then payouts are enabled and the waiting transfer was paid
    page.wait_for_selector('#payout-status[data-status="enabled"]', timeout=WAIT_MS)
    assert "Payouts are enabled" in page.inner_text("body")
    assert page.get_attribute("#payouts-paid", "data-count") == "1"
    assert "CNY 79.20" in page.inner_text("#payouts-paid")  # 88.00 less 10 % commission
    screenshot(page, "payouts-page")

    # and their transfers list shows it paid out, in major units with the currency
    page.click("text=All payouts")
    page.wait_for_selector("#result_list", timeout=WAIT_MS)
    row = page.inner_text("#result_list")
    assert order.number in row and "paid out" in row.lower()
    assert "CNY 88.00" in row and "CNY 8.80" in row and "CNY 79.20" in row
    screenshot(page, "payouts-transfers")
    assert ConnectAccount.objects.get(exhibitor=exhibitor).status == ConnectStatus.ENABLED
    assert Transfer.objects.get(order=order).status == TransferStatus.SENT
    assert ledger_report().unbalanced == []
