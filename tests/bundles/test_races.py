"""Races on real Postgres (threads on a barrier, each on its own connection): a bundle sells no more
than its scarcest component allows, and a refused bundle holds nothing of its other components."""

from collections import Counter

import pytest

from apps.catalog.models import Edition, EditionStatus, Product
from apps.orders import services
from apps.orders.models import CustomerProductQuota, Order, OrderLine, OrderLineEdition
from apps.orders.services import LineRequest
from tests.factories import ShopperFactory
from tests.orders.test_races import outcome, run_together

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_12_buyers_for_a_bundle_of_3_editions_get_exactly_3_and_nothing_else_leaks(trio, badge, guide, vip_pass):
    # given the trio: 3 badge editions, 5 guides, 4 passes
    buyers = [ShopperFactory() for _ in range(12)]
    jobs = [lambda u=u: services.order_place(user=u, lines=[LineRequest(product_id=trio.pk, quantity=1)]) for u in buyers]

    # when they all order at once
    results = run_together(jobs)

    # then the badge decides: 3 orders, each with all three components, and nothing more held
    assert Counter(outcome(r) for r in results) == {"ok": 3, "sold_out": 9}
    assert Order.objects.count() == 3
    assert Edition.objects.filter(product=badge, status=EditionStatus.HELD).count() == 3
    assert OrderLineEdition.objects.count() == 3
    assert Product.objects.get(pk=guide.pk).stock_taken == 3
    assert Product.objects.get(pk=vip_pass.pk).stock_taken == 3
    assert sum(CustomerProductQuota.objects.filter(product=vip_pass).values_list("units", flat=True)) == 3
    for order in Order.objects.all():
        assert sorted(order.lines.values_list("product_id", flat=True)) == sorted([badge.pk, guide.pk, vip_pass.pk])
        assert order.subtotal == 11800


def test_bundle_buyers_and_buyers_of_the_last_passes_alone_never_oversell(trio, badge, guide, vip_pass):
    # given 2 passes left, wanted by 6 bundle buyers and 6 buyers of the pass alone
    Product.objects.filter(pk=vip_pass.pk).update(stock_taken=2)
    bundle_buyers = [ShopperFactory() for _ in range(6)]
    pass_buyers = [ShopperFactory() for _ in range(6)]
    jobs = [lambda u=u: services.order_place(user=u, lines=[LineRequest(product_id=trio.pk, quantity=1)]) for u in bundle_buyers]
    jobs += [lambda u=u: services.order_place(user=u, lines=[LineRequest(product_id=vip_pass.pk, quantity=1)])
             for u in pass_buyers]

    results = run_together(jobs)

    # then exactly 2 passes went, and only the bundles that won a pass hold a badge and a guide
    assert Counter(outcome(r) for r in results) == {"ok": 2, "sold_out": 10}
    assert Product.objects.get(pk=vip_pass.pk).stock_taken == 4
    bundles_sold = OrderLine.objects.filter(product=vip_pass, bundle=trio).count()
    assert Edition.objects.filter(product=badge, status=EditionStatus.HELD).count() == bundles_sold
    assert Product.objects.get(pk=guide.pk).stock_taken == bundles_sold
    assert OrderLine.objects.filter(product__in=[badge, guide]).count() == 2 * bundles_sold
