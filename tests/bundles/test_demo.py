"""The demo expo's `demo-bundle` (API.md "Demo expo (additions)"): a collectible, a download and a pass
of three exhibitors, no service, on sale and orderable; loading twice changes nothing."""

import io

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.catalog.management.demo import SHOPPER_EMAIL
from apps.catalog.models import BundleComponent, Product, ProductKind
from apps.catalog.selectors import product_list_public
from apps.orders.services import LineRequest, order_place

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_the_demo_bundle_holds_a_collectible_a_download_and_a_pass_of_three_exhibitors():
    _load()

    bundle = product_list_public().get(slug="demo-bundle")
    components = list(BundleComponent.objects.filter(bundle=bundle).select_related("component"))
    assert bundle.kind == ProductKind.BUNDLE
    assert sorted(c.component.kind for c in components) == ["collectible", "download", "pass"]
    assert len({c.component.exhibitor_id for c in components}) == 3
    assert sum(c.share_bps for c in components) == 10_000
    assert bundle.on_sale and bundle.remaining and bundle.remaining > 0  # type: ignore[attr-defined]

    order = order_place(user=User.objects.get(email=SHOPPER_EMAIL), lines=[LineRequest(product_id=bundle.pk, quantity=1)])
    assert order.total == bundle.price
    assert sorted(order.lines.values_list("product__kind", flat=True)) == ["collectible", "download", "pass"]


def test_loading_the_demo_twice_makes_one_bundle():
    _load()
    output = _load()

    assert "already loaded" in output
    assert Product.objects.filter(slug="demo-bundle").count() == 1
    assert BundleComponent.objects.filter(bundle__slug="demo-bundle").count() == 3
