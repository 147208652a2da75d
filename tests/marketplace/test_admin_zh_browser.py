"""The Chinese interface in a real browser (Debian's Chromium through Playwright): an exhibitor's
staff member with `zh-hans` sees no English label of the project's own on the admin home page, the
product add form and a product change form, nor on the booth page; a shopper sees none on a
certificate page.

"English label" means a short msgid of locale/zh_Hans/LC_MESSAGES/django.po (at most four words,
no placeholder) whose Chinese msgstr differs from it; none may be a whole visible line or text
node of the page's main content or sidebar. Data (product titles, emails) are not msgids, and
Django's and unfold's own words are translated by their catalogs.
Screenshots: test-output/admin-zh-dashboard.png, admin-zh-product-add.png,
admin-zh-product-change.png, booth-zh.png, certificate-zh.png."""

import re
from datetime import timedelta
from functools import cache
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.fulfilment.services import fulfilment_fulfil_order
from tests.browser import WAIT_MS, admin_login, needs_chromium, screenshot, wait_for_js
from tests.factories import PASSWORD, ProductFactory, ServiceSlotFactory
from tests.operations.dashboard_helpers import onboard, sell, settle

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
ADMIN_CONTAINERS = ("#main", "#nav-sidebar-inner")
# Icons are Material Symbols ligatures: their text ("download", "key") is a glyph's name, not words.
ICONS = ".material-symbols-outlined, .material-symbols-rounded, .material-icons"
# Every visible text node of a container, one string each (innerText lines miss text split by
# tags), and the icons' names, to leave out of its innerText lines.
VISIBLE_TEXT_NODES = """([container, icons]) => {
    const texts = [];
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || ["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT"].includes(parent.tagName)) continue;
        if (parent.closest(icons)) continue;
        if (!parent.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
        texts.push(node.textContent);
    }
    return {texts, icons: [...container.querySelectorAll(icons)].map(icon => icon.textContent.trim())};
}"""


@cache
def english_labels() -> frozenset[str]:
    """The project's short English labels that have a different Chinese translation, lower-cased."""
    labels = set()
    for entry in polib.pofile(str(PO)):
        msgid = entry.msgid
        if entry.msgid_plural or not entry.msgstr or entry.msgstr == msgid:
            continue
        if "%" in msgid or "{" in msgid or not re.search(r"[A-Za-z]{2}", msgid) or len(msgid.split()) > 4:
            continue
        labels.add(_normal(msgid))
    return frozenset(labels)


def _normal(text: str) -> str:
    return " ".join(text.split()).strip(" :：").lower()


def english_left(page, containers: tuple[str, ...]) -> list[str]:
    """The project's English labels shown as a whole line or text node in `containers`."""
    seen = []
    for selector in containers:
        element = page.locator(selector).first
        nodes = page.evaluate(VISIBLE_TEXT_NODES, [element.element_handle(), ICONS])
        icons = set(nodes["icons"])
        seen += [line for line in page.inner_text(selector).splitlines() if line.strip() not in icons]
        seen += nodes["texts"]
    labels = english_labels()
    return sorted({text.strip() for text in seen if _normal(text) in labels})


def assert_no_english_label(page, containers: tuple[str, ...]) -> None:
    left = english_left(page, containers)
    assert left == [], f"English labels on {page.url}: {left}"


@pytest.fixture(autouse=True)
def _offline(settings, monkeypatch):
    """The live server runs in this process: nothing may reach the shared broker."""
    settings.PAYMENT_PROVIDER = "simulated"
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


@pytest.fixture
def booth(exhibitor_a, shopper):
    """Alpha's day: a guide and a consultation sold today, a drop and a pass on sale."""
    now = timezone.now()
    onboard(exhibitor_a)
    guide = ProductFactory(exhibitor=exhibitor_a, price=1250, title="Expo guide", title_zh_hans="展会指南",
                           is_published=True)
    consult = ProductFactory(exhibitor=exhibitor_a, service=True, price=6000, title="Health consultation",
                             title_zh_hans="健康咨询", meeting_url="https://meet.example.test/alpha")
    slot = ServiceSlotFactory(product=consult, starts_at=now + timedelta(hours=2), capacity=4)
    drop = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=20, price=8800,
                          title="Jade rabbit", title_zh_hans="玉兔数字藏品")
    vr = ProductFactory(exhibitor=exhibitor_a, pass_=True, price=3000, stock_total=50, title="VR booth pass",
                        title_zh_hans="VR 展位通行证", pass_valid_from=now - timedelta(hours=1),
                        pass_valid_until=now + timedelta(days=1))
    settle(sell(shopper, (guide, 2)))
    today = sell(shopper, (consult, 1, slot), (drop, 1), (vr, 1))
    settle(today)
    fulfilment_fulfil_order(order_id=today.pk)
    return {"consult": consult, "drop": drop, "order": today}


def test_staff_member_sees_the_admin_in_chinese_only(browser, live_server, staff_a, booth):
    page = admin_login(browser, live_server.url, staff_a.email, language="zh-hans")

    # The home page: the booth's day
    page.wait_for_selector("#dashboard-cards", timeout=WAIT_MS)
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "健康咨询" in page.inner_text("#main")
    screenshot(page, "admin-zh-dashboard")
    assert_no_english_label(page, ADMIN_CONTAINERS)
    # unfold's own chrome around the sidebar (apps/operations/admin/chrome_strings.py)
    chrome = page.inner_text("body")
    assert "全部应用" in chrome and "All applications" not in chrome

    # The product add form, every kind's sections
    page.goto(f"{live_server.url}/admin/catalog/product/add/")
    page.wait_for_selector("#id_kind", timeout=WAIT_MS)
    screenshot(page, "admin-zh-product-add")
    assert_no_english_label(page, ADMIN_CONTAINERS)

    # A service's change form, with its slots
    page.goto(f"{live_server.url}/admin/catalog/product/{booth['consult'].pk}/change/")
    page.wait_for_selector("#slots-group", timeout=WAIT_MS)
    screenshot(page, "admin-zh-product-change")
    assert_no_english_label(page, ADMIN_CONTAINERS)


def test_booth_page_in_chinese(browser, live_server, staff_a, booth):
    page = browser.new_page(viewport={"width": 390, "height": 844}, extra_http_headers={"Accept-Language": "zh-hans"})
    page.goto(f"{live_server.url}/booth/")
    page.wait_for_url("**/admin/login/?next=/booth/", timeout=WAIT_MS)
    page.fill("input[name=username]", staff_a.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server.url}/booth/", timeout=WAIT_MS)
    wait_for_js(page, "document.getElementById('roster-status').textContent.trim() !== ''")

    assert page.get_attribute("html", "lang") == "zh-hans"
    screenshot(page, "booth-zh")
    assert_no_english_label(page, ("body",))


def test_certificate_page_in_chinese(browser, live_server, booth):
    edition = booth["order"].entitlements.get(kind="collectible")
    page = browser.new_page(viewport={"width": 1000, "height": 1000}, extra_http_headers={"Accept-Language": "zh-hans"})
    page.goto(live_server.url + reverse("fulfilment-pages:certificate", kwargs={"code": edition.certificate_code}))

    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "玉兔数字藏品" in page.inner_text("body")
    screenshot(page, "certificate-zh")
    assert_no_english_label(page, ("body",))
