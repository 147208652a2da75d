"""Bundles in the product admin: components as an inline with shares in percent, checked as a whole;
staff bundle only their own goods and cannot change a bundle holding another exhibitor's."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.catalog.models import BundleComponent, Product, ProductKind
from tests.factories import staff_of

pytestmark = pytest.mark.django_db

PREFIX = "bundle_components"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(exhibitor_id: int, rows: list[tuple[int, int, str]], **overrides) -> dict:
    data = {"exhibitor": exhibitor_id, "kind": ProductKind.BUNDLE, "slug": "", "title_en": "Expo trio", "title_zh_hans": "",
            "description_en": "", "description_zh_hans": "", "price": "118.00", "currency": "CNY", "per_customer_limit": "",
            "edition_size": "", "stock_total": "", "download_limit": "", "licence_keys_bulk": "", "meeting_url": "",
            "is_published": "on"}
    for prefix in ("slots", "files", "licence_keys"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update({f"{PREFIX}-TOTAL_FORMS": str(len(rows)), f"{PREFIX}-INITIAL_FORMS": "0"})
    for i, (product_id, quantity, share) in enumerate(rows):
        data.update({f"{PREFIX}-{i}-component": product_id, f"{PREFIX}-{i}-quantity": quantity, f"{PREFIX}-{i}-share_bps": share})
    data.update(overrides)
    return data


def test_an_operator_makes_a_bundle_of_three_exhibitors_on_the_add_page(operator, alpha, badge, guide, vip_pass):
    response = _client(operator).post(reverse("admin:catalog_product_add"), _post(
        alpha.pk, [(badge.pk, 1, "28"), (guide.pk, 1, "21"), (vip_pass.pk, 1, "51")]), follow=True)

    assert response.status_code == 200
    bundle = Product.objects.get(title_en="Expo trio")
    assert (bundle.kind, bundle.price, bundle.is_published) == (ProductKind.BUNDLE, 11800, True)
    assert list(bundle.bundle_components.order_by("id").values_list("component_id", "share_bps")) == [
        (badge.pk, 2800), (guide.pk, 2100), (vip_pass.pk, 5100)]
    # the change page shows the shares back in percent
    page = _client(operator).get(reverse("admin:catalog_product_change", args=[bundle.pk])).content.decode()
    assert 'value="28"' in page and "Products in the bundle" in page


def test_shares_that_do_not_add_up_to_100_are_a_form_error(operator, alpha, badge, guide):
    response = _client(operator).post(reverse("admin:catalog_product_add"), _post(
        alpha.pk, [(badge.pk, 1, "50"), (guide.pk, 1, "40.5")]))

    assert response.status_code == 200
    assert "add up to 90.5 percent" in response.content.decode()
    assert not Product.objects.filter(title_en="Expo trio").exists()


def test_staff_cannot_pick_another_exhibitors_product(alpha, badge, guide):
    staff = staff_of(alpha, email="staff@alpha.admin.test")

    response = _client(staff).post(reverse("admin:catalog_product_add"), _post(
        alpha.pk, [(badge.pk, 1, "50"), (guide.pk, 1, "50")]))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Product.objects.filter(title_en="Expo trio").exists()


def test_staff_bundle_their_own_goods(alpha, badge):
    staff = staff_of(alpha, email="staff@alpha.admin.test")
    second = Product.objects.create(exhibitor=alpha, kind=ProductKind.DOWNLOAD, slug="second", title_en="Second", price=100)

    response = _client(staff).post(reverse("admin:catalog_product_add"), _post(
        alpha.pk, [(badge.pk, 2, "70"), (second.pk, 1, "30")], is_published=""))

    assert response.status_code == 302, response.content.decode()[:3000]
    bundle = Product.objects.get(title_en="Expo trio")
    assert BundleComponent.objects.filter(bundle=bundle).count() == 2


def test_the_lead_exhibitors_staff_see_a_shared_bundle_read_only(alpha, trio):
    staff = staff_of(alpha, email="lead@alpha.admin.test")
    client = _client(staff)
    change = reverse("admin:catalog_product_change", args=[trio.pk])

    page = client.get(change)
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert client.post(change, _post(alpha.pk, [(trio.bundle_components.first().component_id, 1, "100")])).status_code == 403
    assert client.post(reverse("admin:catalog_product_delete", args=[trio.pk]), {"post": "yes"}).status_code == 403
    assert BundleComponent.objects.filter(bundle=trio).count() == 3


def test_other_exhibitors_staff_do_not_see_the_bundle(bravo, trio):
    staff = staff_of(bravo, email="staff@bravo.admin.test")  # their guide is in it, the bundle is not theirs

    assert _client(staff).get(reverse("admin:catalog_product_change", args=[trio.pk])).status_code == 404


def test_the_lead_exhibitors_staff_cannot_unpublish_a_shared_bundle_from_the_list(alpha, operator, trio):
    staff = staff_of(alpha, email="lead@alpha.admin.test")
    assert Product.objects.get(pk=trio.pk).is_published
    changelist = reverse("admin:catalog_product_changelist")

    page = _client(staff).post(changelist, {"action": "unpublish", "_selected_action": [str(trio.pk)]}, follow=True)
    assert "only operators publish or unpublish it" in page.content.decode()
    assert Product.objects.get(pk=trio.pk).is_published

    _client(operator).post(changelist, {"action": "unpublish", "_selected_action": [str(trio.pk)]})
    assert not Product.objects.get(pk=trio.pk).is_published
