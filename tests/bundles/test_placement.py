"""Ordering a bundle: one line in the request, ordinary lines of its components in the order, each
priced at its share; every component's inventory held in one transaction or none."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog import services as catalog_services
from apps.catalog.models import Edition, EditionStatus, Product, ServiceSlot
from apps.orders import services
from apps.orders.models import CustomerProductQuota, Order, OrderLine, OrderLineEdition
from apps.orders.services import LineRequest
from apps.payments.api.serializers import order_output
from apps.payments.selectors import order_get_with_payments_for_shopper
from marketplace.errors import InvalidState, LimitExceeded, NotOnSale, SlotRequired, SoldOut, ValidationFailed
from tests.factories import ProductFactory, ServiceSlotFactory
from tests.test_output_shapes import assert_matches

pytestmark = pytest.mark.django_db

ORDERS_URL = "/api/v1/orders/"


def _lines(order: Order) -> list[tuple[int, int, int, int, int | None, int | None]]:
    return sorted(order.lines.values_list("product_id", "exhibitor_id", "quantity", "unit_price", "bundle_id",
                                          "bundle_quantity"))


def _held(*products: Product) -> dict[int, int]:
    """What each product has out: editions not available, or stock taken."""
    return {p.pk: Edition.objects.filter(product=p).exclude(status=EditionStatus.AVAILABLE).count()
            + Product.objects.get(pk=p.pk).stock_taken for p in products}


def test_a_bundle_is_placed_as_its_components_lines_priced_by_share(shopper, trio, badge, guide, vip_pass):
    order = services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])

    assert _lines(order) == sorted([
        (badge.pk, badge.exhibitor_id, 1, 3304, trio.pk, 1),  # 28 % of 118.00
        (guide.pk, guide.exhibitor_id, 1, 2478, trio.pk, 1),  # 21 %
        (vip_pass.pk, vip_pass.exhibitor_id, 1, 6018, trio.pk, 1),  # 51 %
    ])
    assert order.subtotal == order.total == 11800
    assert OrderLineEdition.objects.filter(line__order=order).count() == 1
    assert _held(badge, guide, vip_pass) == {badge.pk: 1, guide.pk: 1, vip_pass.pk: 1}
    assert CustomerProductQuota.objects.get(user=shopper, product=vip_pass).units == 1


def test_quantities_and_odd_shares_split_into_exact_integer_lines(shopper, with_service, consult, slot, guide, vip_pass):
    # 2 bundles of: consultation 49.99 %, guide 20 %, two passes 30.01 % of 99.99 (no pass limit here)
    Product.objects.filter(pk=vip_pass.pk).update(per_customer_limit=None)
    order = services.order_place(user=shopper, lines=[
        LineRequest(product_id=with_service.pk, quantity=2, component_slots=((consult.pk, slot.pk),))])

    assert _lines(order) == sorted([
        (consult.pk, consult.exhibitor_id, 2, 4998, with_service.pk, 2),
        (guide.pk, guide.exhibitor_id, 2, 2000, with_service.pk, 2),
        # the passes' 30.01 = 15.00 + 15.01: one unit of each per bundle
        (vip_pass.pk, vip_pass.exhibitor_id, 2, 1500, with_service.pk, 2),
        (vip_pass.pk, vip_pass.exhibitor_id, 2, 1501, with_service.pk, 2),
    ])
    assert order.subtotal == 2 * 9999 == sum(line.total for line in order.lines.all())
    assert all(line.total == line.unit_price * line.quantity for line in order.lines.all())
    assert OrderLine.objects.get(order=order, product=consult).slot_id == slot.pk
    assert ServiceSlot.objects.get(pk=slot.pk).taken == 2
    assert Product.objects.get(pk=vip_pass.pk).stock_taken == 4
    assert sum(order.lines.filter(product=vip_pass).values_list("stock_held", flat=True)) == 4


def test_a_bundle_next_to_the_same_product_bought_alone(shopper, trio, badge):
    order = services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1),
                                                      LineRequest(product_id=badge.pk, quantity=1)])

    badge_lines = list(order.lines.filter(product=badge).order_by("unit_price"))
    assert [(line.unit_price, line.bundle_id) for line in badge_lines] == [(3304, trio.pk), (3800, None)]
    # each line holds its own edition
    assert [OrderLineEdition.objects.filter(line=line).count() for line in badge_lines] == [1, 1]
    assert order.subtotal == 11800 + 3800


def test_a_sold_out_component_refuses_the_whole_bundle_and_holds_nothing(shopper, other_shopper, trio, badge, guide, vip_pass):
    # given the badge's last edition taken by another order
    Edition.objects.filter(product=badge, serial__in=[1, 2]).update(status=EditionStatus.SOLD)
    services.order_place(user=other_shopper, lines=[LineRequest(product_id=badge.pk, quantity=1)])
    before = _held(badge, guide, vip_pass)

    # when the bundle is ordered
    with pytest.raises(SoldOut):
        services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])

    # then nothing of the other components is held, no quota counted, no order
    assert _held(badge, guide, vip_pass) == before
    assert not CustomerProductQuota.objects.filter(user=shopper, units__gt=0).exists()
    assert not Order.objects.filter(user=shopper).exists()
    # and the next attempt is answered from the sold-out flag
    with pytest.raises(SoldOut):
        services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])


def test_a_component_limit_counts_units_bought_in_bundles_and_alone(shopper, trio, vip_pass):
    # the pass allows 2 per customer: one in the bundle, one alone, then no more
    services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1),
                                              LineRequest(product_id=vip_pass.pk, quantity=1)])
    with pytest.raises(LimitExceeded):
        services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])
    with pytest.raises(LimitExceeded):  # within one order too
        services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=3)])


def test_slots_of_service_components(shopper, with_service, consult, slot, guide):
    other_service_slot = ServiceSlotFactory(product=ProductFactory(exhibitor=consult.exhibitor, service=True))
    past = ServiceSlotFactory(product=consult, starts_at=timezone.now() - timedelta(hours=1))
    cases = [
        ((), SlotRequired),
        (((consult.pk, other_service_slot.pk),), ValidationFailed),  # a slot of another product
        (((consult.pk, past.pk),), ValidationFailed),  # started
        (((consult.pk, slot.pk), (guide.pk, slot.pk)), ValidationFailed),  # the guide is no service
    ]
    for component_slots, error in cases:
        with pytest.raises(error):
            services.order_place(user=shopper, lines=[LineRequest(product_id=with_service.pk, quantity=1,
                                                                  component_slots=component_slots)])
    with pytest.raises(ValidationFailed):  # component slots on a line that is not a bundle's
        services.order_place(user=shopper, lines=[LineRequest(product_id=guide.pk, quantity=1,
                                                              component_slots=((consult.pk, slot.pk),))])
    assert not Order.objects.exists()


def test_a_bundle_whose_component_is_off_sale_is_not_on_sale(shopper, trio, guide):
    Product.objects.filter(pk=guide.pk).update(is_published=False)

    with pytest.raises(NotOnSale):
        services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])


def test_cancelling_releases_every_component(shopper, with_service, consult, slot, guide, vip_pass):
    order = services.order_place(user=shopper, lines=[
        LineRequest(product_id=with_service.pk, quantity=1, component_slots=((consult.pk, slot.pk),))])

    services.order_cancel(order_id=order.pk)

    assert ServiceSlot.objects.get(pk=slot.pk).taken == 0
    assert _held(guide, vip_pass) == {guide.pk: 0, vip_pass.pk: 0}
    assert CustomerProductQuota.objects.get(user=shopper, product=vip_pass).units == 0


def test_a_late_payment_reclaims_every_line_of_a_product(shopper, trio, badge):
    # given an expired order with the badge on two lines (in the bundle and alone)
    order = services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1),
                                                      LineRequest(product_id=badge.pk, quantity=1)])
    services.order_expire(order_id=order.pk, now=order.expires_at + timedelta(seconds=1))
    assert not OrderLineEdition.objects.filter(line__order=order).exists()

    # when its payment arrives late
    services.order_mark_paid_late(order_id=order.pk)

    # then each line holds one sold edition again
    lines = order.lines.filter(product=badge)
    assert sorted(OrderLineEdition.objects.filter(line__in=lines).values_list("line_id", flat=True)) == sorted(
        lines.values_list("id", flat=True))
    assert Edition.objects.filter(product=badge, status=EditionStatus.SOLD).count() == 2


def test_the_api_takes_component_slots_and_answers_the_contracts_shape(client_a, shopper, with_service, consult, slot):
    response = client_a.post(ORDERS_URL, {"lines": [
        {"product": with_service.pk, "quantity": 1, "component_slots": {str(consult.pk): slot.pk}, "unit_price": 1}]},
        format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["total"] == 9999
    assert {line["bundle"]["product"] for line in body["lines"]} == {with_service.pk}
    assert {line["bundle"]["quantity"] for line in body["lines"]} == {1}
    assert [line["slot"] for line in body["lines"] if line["product"] == consult.pk] == [slot.pk]
    written = order_output(order_get_with_payments_for_shopper(user=shopper, order_id=body["id"]))
    assert_matches("OrderOutput", written)


def test_the_api_refuses_bad_component_slots(client_a, with_service, consult, slot):
    for bad, code in (({"x": slot.pk}, "invalid"), ({str(consult.pk): 0}, "invalid"), ({"": slot.pk}, "invalid"),
                      ({"1.2": slot.pk}, "invalid"), ([slot.pk], "not_a_dict"), ({}, "slot_required"),
                      ({"9" * 30: slot.pk}, "invalid"), ({str(consult.pk): 10**30}, "invalid"),
                      ({str(n): slot.pk for n in range(1, 12)}, "invalid")):
        response = client_a.post(ORDERS_URL, {"lines": [{"product": with_service.pk, "component_slots": bad}]}, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["errors"][0]["code"] == code
        if code != "slot_required":
            assert response.json()["errors"][0]["attr"] == "lines.0.component_slots"
    assert client_a.get(ORDERS_URL).json()["results"] == []


def test_a_bundle_that_was_ordered_cannot_be_deleted(shopper, trio):
    services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])

    with pytest.raises(InvalidState, match="unpublish"):
        catalog_services.product_delete(product=trio)
    assert Product.objects.filter(pk=trio.pk).exists()


def test_a_bundle_costs_one_query_more_than_its_components_bought_alone(shopper, other_shopper, trio, badge, guide, vip_pass):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as alone:
        services.order_place(user=other_shopper, lines=[LineRequest(product_id=p.pk, quantity=1) for p in (badge, guide, vip_pass)])
    with CaptureQueriesContext(connection) as bundled:
        services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)])

    assert len(bundled) == len(alone) + 1  # the bundle's components, read once whatever their number


@pytest.mark.parametrize("scope", ["kind", "product"])
def test_a_voucher_scoped_to_bundles_applies_to_the_bundles_component_lines(scope, shopper, trio, badge, guide):
    """Discounts are computed on the lines, and a bundle is ordered as its components' lines: a
    campaign for kind `bundle` (or for this bundle) covers them, split over all three by value;
    the same goods bought alone are not covered."""
    from apps.vouchers import services as vouchers
    from apps.vouchers.errors import VoucherNotApplicable
    from tests.vouchers.conftest import make_campaign

    fields = {"scope_kinds": ["bundle"]} if scope == "kind" else {"scope_products": [trio]}
    first, second = (vouchers.voucher_claim(campaign=make_campaign(slug=f"bundles-{scope}-{i}", face_value=100, min_spend=200, **fields),
                                            user=shopper) for i in (1, 2))

    order = services.order_place(user=shopper, lines=[LineRequest(product_id=trio.pk, quantity=1)], voucher_id=first.pk)
    assert (order.subtotal, order.discount, order.total) == (11800, 100, 11700)
    assert sum(order.voucher_redemption.line_shares.values()) == 100
    assert len(order.voucher_redemption.line_shares) == 3

    with pytest.raises(VoucherNotApplicable):
        services.order_place(user=shopper, lines=[LineRequest(product_id=badge.pk, quantity=1),
                                                  LineRequest(product_id=guide.pk, quantity=1)], voucher_id=second.pk)
