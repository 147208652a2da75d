"""order_place: holds, refusals, and the database as the authority on availability."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog import services as catalog_services
from apps.catalog.models import Edition, EditionStatus, Product, ServiceSlot
from apps.orders.models import CustomerProductQuota, OrderEvent, OrderLineEdition, OrderStatus
from apps.orders.services import LineRequest, order_cancel, order_place
from marketplace.errors import LimitExceeded, NotOnSale, SlotFull, SlotRequired, SoldOut, ValidationFailed
from tests.factories import ProductFactory, ServiceSlotFactory, ShopperFactory, place_order


def test_collectible_line_holds_distinct_editions(shopper, drop):
    # when
    order = place_order(shopper, (drop, 2))

    # then
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.number.startswith("EX-")
    assert len(order.number) == 12
    assert order.total == order.subtotal == 2 * 8800
    assert abs(order.expires_at - (timezone.now() + settings.MARKETPLACE["ORDER_HOLD"])) < timedelta(seconds=5)
    held = Edition.objects.filter(product=drop, status=EditionStatus.HELD)
    assert held.count() == 2
    linked = OrderLineEdition.objects.filter(line__order=order).values_list("edition_id", flat=True)
    assert set(linked) == set(held.values_list("id", flat=True))
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 2
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status) == ("", OrderStatus.PENDING_PAYMENT)


def test_prices_come_from_the_product_row(shopper, download):
    order = place_order(shopper, (download, 2))

    line = order.lines.get()
    assert (line.unit_price, line.total, line.exhibitor_id, line.currency) == (1999, 3998, download.exhibitor_id, "CNY")


def test_limited_stock_is_taken_and_refused_when_short(shopper, other_shopper, download):
    place_order(shopper, (download, 2))
    assert Product.objects.get(pk=download.pk).stock_taken == 2

    with pytest.raises(SoldOut):
        place_order(other_shopper, (download, 2))
    assert Product.objects.get(pk=download.pk).stock_taken == 2


def test_unlimited_stock_touches_no_counter(shopper, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, stock_total=None)

    order = place_order(shopper, (product, 3))

    assert order.lines.get().stock_held == 0
    assert Product.objects.get(pk=product.pk).stock_taken == 0


def test_service_books_its_slot_until_full(shopper, other_shopper, service_slot):
    place_order(shopper, (service_slot.product, 2, service_slot))
    assert ServiceSlot.objects.get(pk=service_slot.pk).taken == 2

    with pytest.raises(SlotFull):
        place_order(other_shopper, (service_slot.product, 1, service_slot))


def test_service_without_slot_is_refused(shopper, service_slot):
    with pytest.raises(SlotRequired):
        place_order(shopper, (service_slot.product, 1))


def test_slot_of_another_product_is_a_field_error(shopper, service_slot, exhibitor_b):
    other_service = ProductFactory(exhibitor=exhibitor_b, service=True)

    with pytest.raises(ValidationFailed) as exc:
        place_order(shopper, (other_service, 1, service_slot))
    assert exc.value.attr == "lines"


@pytest.mark.parametrize(("starts", "ends"), [(timedelta(hours=1), None), (-timedelta(hours=2), -timedelta(hours=1))])
def test_outside_the_sale_window_is_not_on_sale(shopper, exhibitor_a, starts, ends):
    now = timezone.now()
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, sale_starts_at=now + starts,
                             sale_ends_at=now + ends if ends else None)

    with pytest.raises(NotOnSale):
        place_order(shopper, (product, 1))
    assert not Edition.objects.filter(product=product).exclude(status=EditionStatus.AVAILABLE).exists()


def test_unpublished_product_is_unknown(shopper, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, is_published=False)

    with pytest.raises(ValidationFailed):
        place_order(shopper, (product, 1))


def test_duplicate_lines_and_bad_quantities_are_refused(shopper, download):
    with pytest.raises(ValidationFailed):
        place_order(shopper, (download, 1), (download, 1))
    with pytest.raises(ValidationFailed):
        place_order(shopper, (download, 11))


def test_per_customer_limit_holds_across_orders_and_is_given_back(shopper, drop):
    first = place_order(shopper, (drop, 1))
    place_order(shopper, (drop, 1))

    with pytest.raises(LimitExceeded):
        place_order(shopper, (drop, 1))

    order_cancel(order_id=first.pk)
    place_order(shopper, (drop, 1))
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 2


def test_more_than_the_limit_in_one_order_is_refused(shopper, drop):
    with pytest.raises(LimitExceeded):
        place_order(shopper, (drop, 3))


def test_a_refused_line_rolls_back_every_hold(shopper, other_shopper, drop, service_slot):
    # given the slot is full
    place_order(other_shopper, (service_slot.product, 2, service_slot))

    # when an order wants an edition and the full slot
    with pytest.raises(SlotFull):
        place_order(shopper, (drop, 1), (service_slot.product, 1, service_slot))

    # then nothing is held for it
    assert not Edition.objects.filter(product=drop).exclude(status=EditionStatus.AVAILABLE).exists()
    assert not CustomerProductQuota.objects.filter(user=shopper, units__gt=0).exists()


def test_sold_out_raises_the_flag_and_the_next_refusal_touches_no_inventory(exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=1)
    place_order(ShopperFactory(), (product, 1))
    with pytest.raises(SoldOut):
        place_order(ShopperFactory(), (product, 1))
    assert catalog_services.inventory_flags(product_ids=[product.pk])[0] == {product.pk}

    # when
    late = ShopperFactory()
    with CaptureQueriesContext(connection) as queries, pytest.raises(SoldOut):
        order_place(user=late, lines=[LineRequest(product_id=product.pk, quantity=1)])

    # then: answered from the Redis flag alone, before any query
    assert queries.captured_queries == []


def test_not_on_sale_is_answered_without_a_transaction(shopper, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, sale_starts_at=timezone.now() + timedelta(days=1))

    with CaptureQueriesContext(connection) as queries, pytest.raises(NotOnSale):
        place_order(shopper, (product, 1))

    assert len(queries.captured_queries) == 1


def test_asking_for_more_than_remain_is_refused_without_raising_the_flag(exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=3)

    with pytest.raises(SoldOut):
        place_order(ShopperFactory(), (product, 5))

    assert catalog_services.inventory_flags(product_ids=[product.pk])[0] == set()
    place_order(ShopperFactory(), (product, 3))


def test_a_service_booked_on_two_slots_counts_both_against_the_limit(shopper, exhibitor_b):
    service = ProductFactory(exhibitor=exhibitor_b, service=True, per_customer_limit=3)
    first, second = ServiceSlotFactory(product=service), ServiceSlotFactory(product=service)

    order = place_order(shopper, (service, 1, first), (service, 2, second))
    assert CustomerProductQuota.objects.get(user=shopper, product=service).units == 3
    with pytest.raises(LimitExceeded):
        place_order(shopper, (service, 1, first))

    order_cancel(order_id=order.pk)
    assert CustomerProductQuota.objects.get(user=shopper, product=service).units == 0
    assert list(ServiceSlot.objects.filter(product=service).values_list("taken", flat=True)) == [0, 0]
