"""Bundles in the catalog: the exact price split, who may bundle what, the publish rules, and the
public product output (components, remaining, on sale) in one query per page."""

from datetime import timedelta
from itertools import pairwise

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.catalog import services
from apps.catalog.models import BundleComponent, Edition, EditionStatus, Product, ProductKind, SaleMode
from apps.exhibitors.models import ExhibitorStatus
from marketplace.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from tests.bundles.conftest import make_bundle
from tests.factories import ProductFactory, staff_of
from tests.test_output_shapes import assert_matches

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/products/"


# --- The split ----------------------------------------------------------------------------------


@st.composite
def _shares(draw: st.DrawFn) -> list[int]:
    count = draw(st.integers(1, 10))
    cuts = sorted(draw(st.lists(st.integers(1, 9_999), min_size=count - 1, max_size=count - 1, unique=True)))
    bounds = [0, *cuts, 10_000]
    return [b - a for a, b in pairwise(bounds)]


@hypothesis_settings(max_examples=300, deadline=None, derandomize=True)
@given(price=st.integers(0, 10**9), shares=_shares())
def test_split_sums_exactly_and_each_part_is_within_one_fen_of_its_exact_share(price, shares):
    parts = services.bundle_split(price=price, shares=shares)

    assert sum(parts) == price
    for part, share in zip(parts, shares, strict=True):
        exact = price * share / 10_000
        assert exact - 1 < part < exact + 1
        assert part in (price * share // 10_000, price * share // 10_000 + 1)
    assert parts == services.bundle_split(price=price, shares=shares)  # deterministic


def test_split_gives_the_leftover_fen_to_the_largest_remainders():
    # 9999 × (49.99 %, 20 %, 30.01 %) = 4998.50, 1999.80, 3000.70: two fen left, to .80 and .70
    assert services.bundle_split(price=9999, shares=[4999, 2000, 3001]) == [4998, 2000, 3001]
    assert services.bundle_split(price=1, shares=[5000, 5000]) == [1, 0]  # a tie goes to the first
    with pytest.raises(ValueError, match="sum to 10,000"):
        services.bundle_split(price=100, shares=[5000, 4999])


# --- Who may bundle what ------------------------------------------------------------------------


def test_an_operator_bundles_goods_of_three_exhibitors(trio, badge, guide, vip_pass):
    rows = list(BundleComponent.objects.filter(bundle=trio).order_by("id").values_list("component_id", "quantity", "share_bps"))

    assert rows == [(badge.pk, 1, 2800), (guide.pk, 1, 2100), (vip_pass.pk, 1, 5100)]
    assert trio.is_published


def test_staff_bundle_their_own_goods_but_never_another_exhibitors(alpha, bravo, badge, guide):
    staff = staff_of(alpha, email="staff@alpha.bundles.test")
    own_second = ProductFactory(exhibitor=alpha, price=500)
    bundle = services.product_save(product=Product(exhibitor=alpha, kind=ProductKind.BUNDLE, price=4000, title_en="Own"))

    # their own goods: fine
    services.bundle_components_set(bundle=bundle, actor=staff, components=[
        services.ComponentSpec(product_id=badge.pk, quantity=1, share_bps=9000),
        services.ComponentSpec(product_id=own_second.pk, quantity=1, share_bps=1000)])
    assert services.bundle_editable_by(user=staff, bundle=bundle)

    # another exhibitor's product answers 404, and nothing changes
    with pytest.raises(NotFound):
        services.bundle_components_set(bundle=bundle, actor=staff, components=[
            services.ComponentSpec(product_id=badge.pk, quantity=1, share_bps=5000),
            services.ComponentSpec(product_id=guide.pk, quantity=1, share_bps=5000)])
    assert set(BundleComponent.objects.filter(bundle=bundle).values_list("component_id", flat=True)) == {badge.pk, own_second.pk}

    # another exhibitor's bundle answers 404 too
    foreign = services.product_save(product=Product(exhibitor=bravo, kind=ProductKind.BUNDLE, price=4000, title_en="Theirs"))
    with pytest.raises(NotFound):
        services.bundle_components_set(bundle=foreign, actor=staff, components=[
            services.ComponentSpec(product_id=badge.pk, quantity=1, share_bps=10_000)])


def test_a_bundle_holding_another_exhibitors_goods_is_not_editable_by_the_lead_staff(alpha, trio, badge):
    staff = staff_of(alpha, email="lead@alpha.bundles.test")
    own = badge  # alpha's own goods, in the bundle already

    assert not services.bundle_editable_by(user=staff, bundle=trio)
    with pytest.raises(PermissionDenied):  # their bundle, but not all goods are theirs: no taking it over
        services.bundle_components_set(bundle=trio, actor=staff, components=[
            services.ComponentSpec(product_id=own.pk, quantity=1, share_bps=10_000)])
    assert BundleComponent.objects.filter(bundle=trio).count() == 3


@pytest.mark.parametrize("case", ["sum", "twice", "bundle", "ballot", "currency", "quantity"])
def test_components_that_cannot_be_bundled_are_refused(case, alpha, badge, guide, trio, bundle_operator):
    bundle = services.product_save(product=Product(exhibitor=alpha, kind=ProductKind.BUNDLE, price=1000, title_en="Draft"))
    other = {
        "sum": guide,
        "twice": badge,
        "bundle": trio,
        "ballot": ProductFactory(exhibitor=alpha, collectible=True, edition_size=2, sale_mode=SaleMode.BALLOT),
        "currency": ProductFactory(exhibitor=alpha, currency="HKD"),
        "quantity": guide,
    }[case]
    components = [services.ComponentSpec(product_id=badge.pk, quantity=1, share_bps=5000),
                  services.ComponentSpec(product_id=other.pk, quantity=11 if case == "quantity" else 1,
                                         share_bps=4000 if case == "sum" else 5000)]

    with pytest.raises(ValidationFailed):
        services.bundle_components_set(bundle=bundle, actor=bundle_operator, components=components)
    assert not BundleComponent.objects.filter(bundle=bundle).exists()


def test_a_bundle_has_no_stock_or_per_customer_limit_of_its_own(alpha):
    for field in ({"stock_total": 5}, {"per_customer_limit": 1}):
        with pytest.raises(ValidationError, match="bundle"):
            services.product_save(product=Product(exhibitor=alpha, kind=ProductKind.BUNDLE, price=1000, title_en="X", **field))


# --- Publish rules ------------------------------------------------------------------------------


def test_publishing_needs_components_that_can_deliver(alpha, badge, bundle_operator):
    empty = services.product_save(product=Product(exhibitor=alpha, kind=ProductKind.BUNDLE, price=1000, title_en="Empty"))
    with pytest.raises(ValidationFailed, match="needs its products"):
        services.product_set_published(product=empty, published=True)

    # a pass without its validity window cannot deliver; an unpublished product is not on sale
    windowless = ProductFactory(exhibitor=alpha, pass_=True)
    draft = ProductFactory(exhibitor=alpha, is_published=False)
    for blocker, message in ((windowless, "validity window"), (draft, "not on sale")):
        bundle = make_bundle(lead=alpha, price=1000, actor=bundle_operator, publish=False,
                             parts=[(badge, 1, 5000), (blocker, 1, 5000)])
        with pytest.raises(ValidationFailed, match=message):
            services.product_set_published(product=bundle, published=True)


def test_a_published_bundle_keeps_sellable_components(trio, guide, bundle_operator):
    draft = ProductFactory(exhibitor=guide.exhibitor, is_published=False)

    with pytest.raises(ValidationFailed, match="not on sale"):
        services.bundle_components_set(bundle=trio, actor=bundle_operator, components=[
            services.ComponentSpec(product_id=guide.pk, quantity=1, share_bps=5000),
            services.ComponentSpec(product_id=draft.pk, quantity=1, share_bps=5000)])
    assert BundleComponent.objects.filter(bundle=trio).count() == 3


def test_a_product_in_a_bundle_cannot_be_deleted(trio, guide):
    with pytest.raises(InvalidState, match="bundle"):
        services.product_delete(product=guide)
    assert Product.objects.filter(pk=guide.pk).exists()


# --- Public output ------------------------------------------------------------------------------


def test_the_catalog_lists_a_bundle_with_its_components(api_client, trio, badge, guide, vip_pass):
    item = api_client.get(f"{LIST_URL}{trio.pk}/").json()

    assert_matches("ProductOutput", item)
    assert item["kind"] == "bundle" and item["price"] == 11800 and item["on_sale"] is True
    assert item["components"] == [
        {"product": {"id": badge.pk, "title": "Genesis Badge", "exhibitor": {"slug": "alpha", "name": "Alpha"}},
         "quantity": 1, "share_bps": 2800},
        {"product": {"id": guide.pk, "title": "Tea Guide", "exhibitor": {"slug": "bravo", "name": "Bravo"}},
         "quantity": 1, "share_bps": 2100},
        {"product": {"id": vip_pass.pk, "title": "VIP Pass", "exhibitor": {"slug": "charlie", "name": "Charlie"}},
         "quantity": 1, "share_bps": 5100},
    ]
    # the scarcest component decides: 3 editions, 5 downloads, 4 passes
    assert item["remaining"] == 3
    other = api_client.get(f"{LIST_URL}{guide.pk}/").json()
    assert other["components"] is None


def test_components_follow_the_request_language(api_client, trio):
    item = api_client.get(f"{LIST_URL}{trio.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    first = item["components"][0]["product"]
    assert first["title"] == "创世徽章" and first["exhibitor"]["name"] == "阿尔法"
    assert item["components"][1]["product"]["title"] == "Tea Guide"  # no Chinese title: English


def test_remaining_divides_by_the_quantity_per_bundle(api_client, with_service, guide, vip_pass):
    # 2 places in the slot, 5 guides, 4 passes at 2 a bundle
    assert api_client.get(f"{LIST_URL}{with_service.pk}/").json()["remaining"] == 2
    Product.objects.filter(pk=vip_pass.pk).update(stock_taken=3)
    assert api_client.get(f"{LIST_URL}{with_service.pk}/").json()["remaining"] == 0


def test_a_bundle_is_off_sale_while_a_component_is(api_client, trio, badge, guide, vip_pass, alpha):
    def listed() -> tuple[bool, list[int]]:
        detail = api_client.get(f"{LIST_URL}{trio.pk}/").json()
        available = [p["id"] for p in api_client.get(LIST_URL, {"available": "true", "kind": "bundle"}).json()["results"]]
        return detail["on_sale"], available

    assert listed() == (True, [trio.pk])
    Product.objects.filter(pk=guide.pk).update(sale_starts_at=timezone.now() + timedelta(days=1))
    assert listed() == (False, [])
    Product.objects.filter(pk=guide.pk).update(sale_starts_at=None, is_published=False)
    assert listed() == (False, [])
    Product.objects.filter(pk=guide.pk).update(is_published=True)
    type(alpha).objects.filter(pk=alpha.pk).update(status=ExhibitorStatus.SUSPENDED)
    # the lead is alpha too: the bundle itself leaves the catalog
    assert api_client.get(f"{LIST_URL}{trio.pk}/").status_code == 404
    type(alpha).objects.filter(pk=alpha.pk).update(status=ExhibitorStatus.APPROVED)
    Edition.objects.filter(product=badge).update(status=EditionStatus.SOLD)
    assert listed() == (True, [])  # on sale, but sold out


@pytest.mark.parametrize("page_size", [1, 100])
def test_a_page_with_bundles_is_still_one_query(api_client, trio, with_service, bundle_operator, django_assert_num_queries,
                                                 page_size):
    parts = [(row.component, row.quantity, row.share_bps) for row in trio.bundle_components.select_related("component")]
    for n in range(4):
        make_bundle(lead=trio.exhibitor, price=1000 + n, actor=bundle_operator, parts=parts)

    with django_assert_num_queries(1):
        response = api_client.get(LIST_URL, {"page_size": page_size, "kind": "bundle"})

    results = response.json()["results"]
    assert len(results) == min(page_size, 6)
    assert {len(item["components"]) for item in results} <= {3}


def test_only_operators_publish_a_bundle_holding_other_exhibitors_goods(alpha, trio, bundle_operator):
    with pytest.raises(PermissionDenied):
        services.product_set_published(product=trio, published=False, actor=staff_of(alpha, email="lead@alpha.test"))
    assert Product.objects.get(pk=trio.pk).is_published
    services.product_set_published(product=trio, published=False, actor=bundle_operator)
    assert not Product.objects.get(pk=trio.pk).is_published
