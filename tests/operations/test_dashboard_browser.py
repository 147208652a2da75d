"""The admin home page in a real browser (Debian's Chromium through Playwright): an exhibitor's
staff member logs in and sees today's sale in yuan, in English and in Chinese, downloads the
sales report; an operator sees the expo. Screenshots: test-output/dashboard-staff-en.png,
dashboard-staff-zh.png, dashboard-operator.png, dashboard-sales-report.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.fulfilment.models import Entitlement
from apps.fulfilment.services import fulfilment_fulfil_order
from tests.browser import WAIT_MS, admin_login, needs_chromium, screenshot
from tests.factories import PASSWORD, ProductFactory, ServiceSlotFactory
from tests.operations.dashboard_helpers import onboard, refund_lines, sell, settle

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture(autouse=True)
def _offline(settings, monkeypatch):
    """The live server runs in this process: nothing may reach the shared broker."""
    settings.PAYMENT_PROVIDER = "simulated"
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


@pytest.fixture
def booth(exhibitor_a, exhibitor_b, shopper, operator):
    """Alpha's day: two guides (12.50) and a numbered drop (88.00) sold today, then two VR passes
    (30.00, one redeemed) and a consultation (60.00); a sale three days ago refunded; a drop
    six days ago. Bravo sold a card (5.00)."""
    now = timezone.now()
    onboard(exhibitor_a)
    guide = ProductFactory(exhibitor=exhibitor_a, price=1250, title="Expo guide", title_zh_hans="展会指南")
    drop = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=20, price=8800,
                          title="Jade rabbit #drop", title_zh_hans="玉兔数字藏品")
    consult = ProductFactory(exhibitor=exhibitor_a, service=True, price=6000, title="Health consultation",
                             title_zh_hans="健康咨询")
    slots = [ServiceSlotFactory(product=consult, starts_at=now + timedelta(hours=h), capacity=4) for h in (1, 2, 26)]
    vr = ProductFactory(exhibitor=exhibitor_a, pass_=True, price=3000, stock_total=50, title="VR booth pass",
                        title_zh_hans="VR 展位通行证")
    today = sell(shopper, (guide, 2), (drop, 1))
    settle(today)
    passes = sell(shopper, (vr, 2), (consult, 1, slots[0]))
    settle(passes)
    fulfilment_fulfil_order(order_id=passes.pk)
    first_pass = Entitlement.objects.filter(order=passes, kind="pass").order_by("unit_index")[0]
    Entitlement.objects.filter(pk=first_pass.pk).update(redeemed_at=now)
    earlier = sell(shopper, (guide, 1), paid_at=now - timedelta(days=3))
    settle(earlier)
    refund_lines(earlier, list(earlier.lines.all()), actor=operator)
    settle(earlier)
    sell(shopper, (drop, 1), paid_at=now - timedelta(days=6))
    sell(shopper, (ProductFactory(exhibitor=exhibitor_b, price=500, title="Bravo card"), 1))
    return {"today": today}


def test_staff_member_logs_in_and_sees_todays_sale(browser, live_server, staff_a, booth):
    # Given Alpha's staff member at the bare login page (no ?next=)
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, extra_http_headers={"Accept-Language": "en"})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", staff_a.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")

    # When they log in, they land on their booth's day
    page.wait_for_url(f"{live_server.url}/admin/", timeout=WAIT_MS)
    page.wait_for_selector("#dashboard-cards", timeout=WAIT_MS)

    # Then today's sale shows in yuan, with orders and units; Bravo's sales do not show
    cards = page.inner_text("#dashboard-cards")
    assert "¥233.00" in cards  # 2 × 12.50 + 88.00, then 2 passes × 30.00 + a 60.00 consultation
    assert "2 orders" in cards and "6 units" in cards
    assert "Bravo" not in page.content()
    assert "Jade rabbit #drop" in page.inner_text("#products")
    assert "2 sold · 18 left of 20" in page.inner_text("#products")
    assert "1 / 4" in page.inner_text("#slots")
    assert page.inner_text("#passes").startswith("1")
    assert page.locator("canvas.chart").count() == 2
    assert page.locator('a[href="/booth/"]').count() >= 1  # "View site" and the sidebar
    screenshot(page, "dashboard-staff-en")

    # and the report downloads as CSV from the dashboard's form
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click('#report-form button[data-format="csv"]')
    assert download.value.suggested_filename.startswith("sales-alpha-")
    content = download.value.path().read_text(encoding="utf-8-sig")
    assert booth["today"].number in content and "Bravo" not in content

    # and on the report's own page, dates in the wrong order are refused in words, then shown
    page.click("text=Sales report >> nth=0")
    page.wait_for_selector("#sales-report", timeout=WAIT_MS)
    page.fill("#id_date_from", "2026-11-26")
    page.fill("#id_date_to", "2026-11-25")
    page.click("#report-form button:not([name])")
    page.wait_for_selector("#report-errors", timeout=WAIT_MS)
    assert "The end date must be on or after the start date." in page.inner_text("#report-form")
    today = timezone.localdate().isoformat()
    page.fill("#id_date_from", (timezone.localdate() - timedelta(days=6)).isoformat())
    page.fill("#id_date_to", today)
    page.click("#report-form button:not([name])")
    page.wait_for_selector("#report-totals", timeout=WAIT_MS)
    assert "¥333.50" in page.inner_text("#report-totals")
    screenshot(page, "dashboard-sales-report")


def test_staff_member_in_chinese(browser, live_server, staff_a, booth):
    page = admin_login(browser, live_server.url, staff_a.email, language="zh-hans")
    page.wait_for_selector("#dashboard-cards", timeout=WAIT_MS)

    assert "¥233.00" in page.inner_text("#dashboard-cards")
    assert "玉兔数字藏品" in page.inner_text("#products")
    assert page.get_attribute("html", "lang") == "zh-hans"
    screenshot(page, "dashboard-staff-zh")


def test_operator_sees_the_expo(browser, live_server, operator, booth):
    page = admin_login(browser, live_server.url, operator.email)
    page.wait_for_selector("#exhibitors", timeout=WAIT_MS)

    table = page.inner_text("#exhibitors")
    assert "Alpha" in table and "Bravo" in table
    assert "¥238.00" in page.inner_text("#dashboard-cards")  # Alpha 233.00 + Bravo 5.00 today
    assert page.locator('a[href="/ops/"]').count() >= 1
    screenshot(page, "dashboard-operator")
