"""In a real browser (Debian's Chromium): exhibitor staff add a pass with a picture; the form shows
only the pass's fields; publishing without a validity window is refused, then fixed and
published. Screenshots: test-output/product-form-*.png."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from apps.catalog.models import Product, ProductKind
from tests.browser import WAIT_MS, admin_login, needs_chromium, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def picture_path(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "lanterns.png"
    image = Image.new("RGB", (900, 600), (180, 40, 40))
    for x in range(0, 900, 60):
        for y in range(0, 600, 60):
            image.paste((250, 200, 60), (x + 10, y + 10, x + 40, y + 50))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def _visible(page, selector: str) -> bool:
    return page.locator(selector).first.is_visible()


def test_staff_add_a_pass_with_a_picture_and_publish_it(browser, live_server, staff_a, exhibitor_a, picture_path):
    page = admin_login(browser, live_server.url, staff_a.email)
    page.goto(f"{live_server.url}/admin/catalog/product/add/")
    screenshot(page, "product-form-add")

    # When they choose "Pass", only the pass's sections remain
    page.select_option("#id_kind", ProductKind.PASS)
    assert _visible(page, "#id_pass_valid_from_0")
    assert _visible(page, "#id_stock_total")
    for hidden in ("#id_edition_size", "#id_meeting_url", "#id_download_limit", "#slots-group", "#files-group",
                   "#licence_keys-group"):
        assert not _visible(page, hidden), hidden

    # The slug follows the title; they add a price and a picture and tick "Published"
    page.locator("#id_title_en").press_sequentially("VIP booth experience")
    assert page.input_value("#id_slug") == "vip-booth-experience"
    page.fill("#id_price", "59")
    page.set_input_files("#id_image", str(picture_path))
    page.check("#id_is_published")
    screenshot(page, "product-form-pass")
    page.click("button[name=_continue]")

    # Then publishing without a validity window is refused, saying what is missing
    page.wait_for_selector("text=needs its validity window", timeout=WAIT_MS)
    assert not Product.objects.filter(title_en="VIP booth experience").exists()
    assert page.input_value("#id_title_en") == "VIP booth experience"
    assert not _visible(page, "#id_edition_size")  # still only the pass's fields
    screenshot(page, "product-form-refused")

    # When they give the window (and the picture again: browsers never keep a chosen file)
    day = timezone.localtime(timezone.now() + timedelta(days=7))
    page.fill("#id_pass_valid_from_0", day.strftime("%Y-%m-%d"))
    page.fill("#id_pass_valid_from_1", "10:00:00")
    page.fill("#id_pass_valid_until_0", day.strftime("%Y-%m-%d"))
    page.fill("#id_pass_valid_until_1", "18:00:00")
    page.set_input_files("#id_image", str(picture_path))
    page.click("button[name=_continue]")

    # Then the pass is saved and on sale, with its picture shown
    page.wait_for_selector("text=was added successfully", timeout=WAIT_MS)
    product = Product.objects.get(title_en="VIP booth experience")
    assert product.is_published and product.kind == ProductKind.PASS and product.image
    page.wait_for_selector(f"img[src$='{product.image.name}']", timeout=WAIT_MS)
    page.wait_for_function("name => [...document.images].some(i => i.src.endsWith(name) && i.naturalWidth === 900)",
                           arg=product.image.name, timeout=WAIT_MS)
    screenshot(page, "product-form-published")

    # and the product list shows its thumbnail
    page.goto(f"{live_server.url}/admin/catalog/product/")
    page.wait_for_function("() => [...document.images].some(i => i.src.includes('200x200') && i.naturalWidth === 200)",
                           timeout=WAIT_MS)
    screenshot(page, "product-form-list")
