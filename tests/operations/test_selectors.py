"""The queue summary: counts, ages, breach markers, scoping, throughput, and a query count that
does not depend on how many orders exist."""

import pytest
from django.urls import reverse

from apps.operations import selectors
from apps.orders import services as order_services
from apps.orders.models import OrderStatus
from tests.operations.conftest import age_order, bulk_orders


def _by_name(stats):
    return {s.name: s for s in stats}


def test_summary_counts_and_ages_each_order_queue(operator, place, product_a, product_b):
    # Given two pending orders (one 90 s old), one just paid, one paid 10 minutes ago, and one
    # paid that needs attention
    old_pending = place(product_a)
    age_order(old_pending, seconds=90)
    place(product_b)
    paid = place(product_a)
    order_services.order_mark_paid(order_id=paid.pk)
    paid_long_ago = place(product_a)
    order_services.order_mark_paid(order_id=paid_long_ago.pk)
    age_order(paid_long_ago, seconds=600)
    stuck = place(product_b)
    order_services.order_mark_paid(order_id=stuck.pk)
    order_services.order_flag_attention(order_id=stuck.pk, error="certificate signer down")
    cancelled = place(product_a)
    order_services.order_cancel(order_id=cancelled.pk)

    # When the operator's summary is computed
    stats = _by_name(selectors.queue_summary(user=operator))

    # Then each open state is counted once, terminal orders nowhere
    assert stats["pending_payment"].count == 2
    assert 89 <= stats["pending_payment"].oldest_age_seconds < 120
    # paid orders are "fulfilling" while younger than the fulfilment sweep's threshold, then
    # wait for the sweep
    assert stats["fulfilling"].count == 1
    assert stats["paid_awaiting_fulfilment"].count == 1
    assert 599 <= stats["paid_awaiting_fulfilment"].oldest_age_seconds < 700
    assert stats["needs_attention"].count == 1
    assert stats["needs_attention"].oldest_age_seconds is not None


def test_empty_queue_has_no_age_and_no_breach(operator):
    stats = _by_name(selectors.queue_summary(user=operator))

    assert stats["pending_payment"].count == 0
    assert stats["pending_payment"].oldest_age_seconds is None
    assert stats["pending_payment"].breached is False


def test_breach_marker_when_oldest_item_is_older_than_its_threshold(operator, place, product_a, settings):
    settings.OPS_QUEUE_THRESHOLDS = {**settings.OPS_QUEUE_THRESHOLDS, "pending_payment": 60}
    young = place(product_a)
    age_order(young, seconds=10)
    assert _by_name(selectors.queue_summary(user=operator))["pending_payment"].breached is False

    old = place(product_a)
    age_order(old, seconds=61)

    stat = _by_name(selectors.queue_summary(user=operator))["pending_payment"]
    assert stat.breached is True
    assert stat.threshold_seconds == 60


def test_exhibitor_staff_see_only_orders_with_their_lines(operator, staff_a, staff_b, shopper, place, product_a, product_b):
    from tests.factories import place_order

    # Given A has 2 pending orders, B has 1, and one mixed order has lines of both
    place(product_a)
    place(product_a)
    place(product_b)
    place_order(shopper, (product_a, 1), (product_b, 1))

    # Then each staff member counts their own (the mixed order once), the operator all
    assert _by_name(selectors.queue_summary(user=staff_a))["pending_payment"].count == 3
    assert _by_name(selectors.queue_summary(user=staff_b))["pending_payment"].count == 2
    assert _by_name(selectors.queue_summary(user=operator))["pending_payment"].count == 4


def test_a_shopper_sees_nothing(shopper, place, product_a):
    place(product_a)

    assert all(stat.count == 0 for stat in selectors.queue_summary(user=shopper))
    assert selectors.can_view_console(shopper) is False


def test_items_are_newest_problem_first_with_admin_links(operator, staff_a, place, product_a):
    older, newer = place(product_a), place(product_a)
    age_order(older, seconds=300)
    age_order(newer, seconds=5)

    items = selectors.queue_items(user=operator, queue_name="pending_payment")

    assert [i.pk for i in items] == [str(newer.pk), str(older.pk)]
    assert items[0].admin_url == reverse("admin:orders_order_change", args=[newer.pk])
    assert items[0].actions == ("order_cancel",)
    # Exhibitor staff cannot open whole orders: they get their lines, and no actions.
    staff_items = selectors.queue_items(user=staff_a, queue_name="pending_payment")
    assert staff_items[0].admin_url is not None
    assert staff_items[0].admin_url.startswith(reverse("admin:orders_orderline_changelist"))
    assert staff_items[0].actions == ()


def test_needs_attention_items_show_the_last_error(operator, place, product_a):
    order = place(product_a)
    order_services.order_mark_paid(order_id=order.pk)
    order_services.order_flag_attention(order_id=order.pk, error="download storage unreachable")

    [item] = selectors.queue_items(user=operator, queue_name="needs_attention")

    assert item.detail == "download storage unreachable"
    assert item.status == "Paid"


def test_throughput_counts_placed_paid_fulfilled_in_the_current_minute(operator, staff_b, place, product_a):
    first, second = place(product_a), place(product_a)
    order_services.order_mark_paid(order_id=first.pk)
    order_services.order_mark_fulfilled(order_id=first.pk)
    order_services.order_mark_paid(order_id=second.pk)

    points = selectors.order_throughput(user=operator)

    assert len(points) == 60
    assert (points[-1].placed, points[-1].paid, points[-1].fulfilled) == (2, 2, 1)
    assert sum(p.placed for p in points[:-1]) == 0
    # B's staff see none of A's orders.
    assert sum(p.placed for p in selectors.order_throughput(user=staff_b)) == 0


@pytest.mark.parametrize("orders", [10, 200])
def test_summary_query_count_does_not_depend_on_the_number_of_orders(
        django_assert_num_queries, operator, staff_a, shopper, product_a, orders):
    # Given `orders` orders in each open state (and as many fulfilled ones)
    for status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.FULFILLED):
        bulk_orders(user=shopper, product=product_a, count=orders, status=status, age_seconds=600)
    bulk_orders(user=shopper, product=product_a, count=orders // 10, status=OrderStatus.PAID, needs_attention=True)
    staff_a.refresh_from_db()  # no cached scope on the user object

    # Then the operator's whole overview is 8 queries: one aggregate per source table (orders,
    # refunds, transfers, payment events, payments, notifications), throughput, failed tasks
    with django_assert_num_queries(8):
        selectors.ops_overview(user=operator)
    # and exhibitor staff's is 7: their 4 sources (no platform data, no Celery), throughput, and
    # the lookups of their operator status and memberships
    with django_assert_num_queries(7):
        selectors.ops_overview(user=staff_a)
    # and the counts are right
    stats = _by_name(selectors.queue_summary(user=operator))
    assert stats["pending_payment"].count == orders
    assert stats["paid_awaiting_fulfilment"].count == orders
    assert stats["needs_attention"].count == orders // 10
