"""The product form: one form for every kind, showing only the chosen kind's sections (with a small
script, degrading to every field without it), a slug made from the title, money in major units."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from apps.catalog import services
from apps.catalog.models import Product, ProductKind
from tests.factories import ProductFactory, ServiceSlotFactory

pytestmark = pytest.mark.django_db

KIND_SECTIONS = {
    ProductKind.COLLECTIBLE: ["Collectible editions"],
    ProductKind.SERVICE: ["Consultation", "Time slots"],
    ProductKind.DOWNLOAD: ["Stock", "Download delivery", "Files", "Licence keys"],
    ProductKind.PASS: ["Stock", "Pass validity"],
    ProductKind.BUNDLE: ["Products in the bundle"],
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(exhibitor_id: int, **overrides) -> dict:
    data = {"exhibitor": exhibitor_id, "kind": ProductKind.PASS, "slug": "", "title_en": "VIP booth pass",
            "title_zh_hans": "", "description_en": "", "description_zh_hans": "", "price": "59", "currency": "CNY",
            "per_customer_limit": "", "edition_size": "", "stock_total": "", "download_limit": "", "licence_keys_bulk": "",
            "meeting_url": ""}
    for prefix in ("slots", "files", "licence_keys"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(overrides)
    return data


def test_add_page_carries_every_kind_marked_for_the_kind_switcher(staff_a):
    html = _client(staff_a).get(reverse("admin:catalog_product_add")).content.decode()
    # Every kind's sections and inlines are in the page (nothing is lost without JavaScript) ...
    for titles in KIND_SECTIONS.values():
        for title in titles:
            assert title in html, title
    # ... each marked with the kinds it belongs to, and the switcher script is loaded
    assert re.search(r'class="[^"]*kind-only kind-collectible', html)
    assert re.search(r'class="[^"]*kind-only kind-download kind-pass', html)
    assert 'id="slots-group"' in html and "kind-only kind-service" in html
    assert "catalog/product_kind.js" in html
    assert finders.find("catalog/product_kind.js")
    # the slug follows the title as it is typed
    assert "data-prepopulated-fields=" in html and "&quot;#id_title_en&quot;" in html


@pytest.mark.parametrize("kind", ProductKind.values)
def test_change_page_shows_only_its_kinds_sections(staff_a, exhibitor_a, kind):
    product = ProductFactory(exhibitor=exhibitor_a, kind=kind, edition_size=5 if kind == ProductKind.COLLECTIBLE else None)
    response = _client(staff_a).get(reverse("admin:catalog_product_change", args=[product.pk]))
    shown = {str(fieldset.name) for fieldset in response.context["adminform"]}
    shown |= {str(inline.opts.verbose_name_plural) for inline in response.context["inline_admin_formsets"]}
    every = {title for titles in KIND_SECTIONS.values() for title in titles}
    assert shown & every == set(KIND_SECTIONS[kind])
    assert {"Listing", "Price and sale"} <= shown


def test_hidden_fields_of_other_kinds_are_ignored(staff_a, exhibitor_a):
    # Given someone who typed an edition size, then chose "pass" (the switcher hid the field)
    response = _client(staff_a).post(reverse("admin:catalog_product_add"), _post(
        exhibitor_a.pk, edition_size="abc", meeting_url="not a url", **{
            "slots-TOTAL_FORMS": "1", "slots-0-starts_at_0": "garbage", "slots-0-capacity": "2"}))
    # Then the pass is created, without them
    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(title_en="VIP booth pass")
    assert (product.kind, product.edition_size, product.meeting_url, product.slots.count()) == (ProductKind.PASS, None, "", 0)


def test_an_empty_slug_is_made_from_the_title_unique_per_exhibitor(staff_a, exhibitor_a, exhibitor_b):
    ProductFactory(exhibitor=exhibitor_a, slug="vip-booth-pass")
    ProductFactory(exhibitor=exhibitor_b, slug="tea-set")
    client = _client(staff_a)
    assert client.post(reverse("admin:catalog_product_add"), _post(exhibitor_a.pk)).status_code == 302
    assert client.post(reverse("admin:catalog_product_add"), _post(exhibitor_a.pk, title_en="Tea set")).status_code == 302
    assert set(Product.objects.filter(exhibitor=exhibitor_a).values_list("slug", flat=True)) >= {"vip-booth-pass-2", "tea-set"}


def test_the_service_makes_a_slug_for_chinese_titles_too(exhibitor_a):
    first = services.product_save(product=Product(exhibitor=exhibitor_a, kind=ProductKind.PASS, title="茶道体验", price=1))
    second = services.product_save(product=Product(exhibitor=exhibitor_a, kind=ProductKind.PASS, title="茶道体验", price=1))
    assert (first.slug, second.slug) == ("pass", "pass-2")


def test_a_service_with_slots_added_on_the_add_page(staff_a, exhibitor_a):
    response = _client(staff_a).post(reverse("admin:catalog_product_add"), _post(
        exhibitor_a.pk, kind=ProductKind.SERVICE, title_en="Skin check", meeting_url="meet.example.com/room", is_published="on",
        **{"slots-TOTAL_FORMS": "1", "slots-0-starts_at_0": "2099-01-02", "slots-0-starts_at_1": "10:00",
           "slots-0-ends_at_0": "2099-01-02", "slots-0-ends_at_1": "10:30", "slots-0-capacity": "3",
           "slots-0-meeting_url": ""}), follow=True)
    product = Product.objects.get(title_en="Skin check")
    assert product.meeting_url == "https://meet.example.com/room"
    assert product.slots.count() == 1
    assert product.is_published, response.content.decode()[:2000]


def test_money_is_shown_in_major_units_with_its_currency_never_minor_units(staff_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, price=1999, service=True)
    ServiceSlotFactory(product=product)
    client = _client(staff_a)
    change = client.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    listing = client.get(reverse("admin:catalog_product_changelist")).content.decode()
    add = client.get(reverse("admin:catalog_product_add")).content.decode()
    assert 'value="19.99"' in change
    assert "CNY 19.99" in listing
    for html in (change, listing, add):
        assert "inor units" not in html
        assert ">1999<" not in html
