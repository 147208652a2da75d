"""Voucher campaigns in a real browser (Debian's Chromium through Playwright): an exhibitor's staff
member creates a campaign for their own goods in the admin, typing money in major units; an
operator reads the settlement of a campaign with a paid order. Saves test-output/voucher-campaign-
staff.png and test-output/voucher-settlement.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.exhibitors.services import roles_ensure
from apps.vouchers import services
from apps.vouchers.models import Campaign, FunderKind
from tests.browser import WAIT_MS, admin_login, needs_chromium, screenshot
from tests.factories import ProductFactory
from tests.payments.conftest import TaskRecorder, onboard
from tests.vouchers.conftest import make_campaign
from tests.vouchers.helpers import checkout, pay

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture(autouse=True)
def _offline(settings, monkeypatch):
    settings.PAYMENT_PROVIDER = "simulated"


def test_staff_create_a_campaign_for_their_own_goods(browser, live_server, staff_a, exhibitor_a, exhibitor_b):
    roles_ensure()
    own = ProductFactory(exhibitor=exhibitor_a, title="Alpha Tea Pass", kind="pass", price=3000)
    ProductFactory(exhibitor=exhibitor_b, title="Bravo Secret Print")
    page = admin_login(browser, live_server.url, staff_a.email)
    page.goto(f"{live_server.url}/admin/vouchers/campaign/add/")
    page.wait_for_selector("#id_title_en", timeout=WAIT_MS)
    assert "Bravo Secret Print" not in page.content()
    assert page.locator("#id_funder_kind").count() == 0  # the funder is their exhibitor, not a choice
    now = timezone.localtime()
    page.fill("#id_title_en", "Alpha tea: 5 off 30")  # the slug is filled in from the title
    page.fill("#id_face_value", "5.00")
    page.fill("#id_min_spend", "30.00")
    page.fill("#id_budget", "100.00")
    page.fill("#id_claim_starts_at_0", now.strftime("%Y-%m-%d"))
    page.fill("#id_claim_starts_at_1", "00:00:00")
    page.fill("#id_claim_ends_at_0", (now + timedelta(days=7)).strftime("%Y-%m-%d"))
    page.fill("#id_claim_ends_at_1", "00:00:00")
    page.select_option("#id_scope_products", str(own.pk))
    page.click('button[name="_save"]')
    page.wait_for_selector("#result_list", timeout=WAIT_MS)
    listing = page.inner_text("#result_list")
    assert "Alpha tea: 5 off 30" in listing and "CNY 5.00" in listing and "20 / 20" in listing
    screenshot(page, "voucher-campaign-staff")
    campaign = Campaign.objects.get(title="Alpha tea: 5 off 30")
    assert campaign.slug.startswith("alpha-tea-5-off-30")
    assert (campaign.funder_kind, campaign.funder_exhibitor_id, campaign.quantity) == (FunderKind.EXHIBITOR, exhibitor_a.pk, 20)
    assert list(campaign.scope_products.values_list("pk", flat=True)) == [own.pk]


def test_an_operator_reads_a_campaigns_settlement(browser, live_server, operator, shopper, exhibitor_a, monkeypatch):
    from config.celery import app

    tasks = TaskRecorder()
    monkeypatch.setattr(app, "send_task", tasks)
    onboard(exhibitor_a)
    product = ProductFactory(exhibitor=exhibitor_a, kind="pass", price=2500)
    campaign = make_campaign(actor=operator, slug="city-spring", title="City spring voucher", funder_kind=FunderKind.PUBLIC,
                             funder_name="City Commerce Bureau")
    pay(checkout(shopper, (product, 1), voucher=services.voucher_claim(campaign=campaign, user=shopper)), tasks)
    page = admin_login(browser, live_server.url, operator.email)
    page.goto(f"{live_server.url}/admin/payments/vouchersettlement/")
    page.wait_for_selector("#result_list", timeout=WAIT_MS)
    assert "CNY 10.00" in page.inner_text("#result_list")
    page.goto(f"{live_server.url}/admin/payments/vouchersettlement/{campaign.pk}/change/")
    page.wait_for_selector("table.voucher-settlement-exhibitors", timeout=WAIT_MS)
    table = page.inner_text("table.voucher-settlement-exhibitors")
    assert exhibitor_a.name in table and "CNY 10.00" in table
    assert "City Commerce Bureau" in page.inner_text("table.voucher-settlement")
    screenshot(page, "voucher-settlement")
