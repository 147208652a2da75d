"""Order state machine: each transition called twice (a no-op) and from a wrong state (refused),
holds released or converted exactly once, side effects after commit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog import services as catalog_services
from apps.catalog.models import Edition, EditionStatus, Product, ServiceSlot
from apps.orders import services
from apps.orders.models import CustomerProductQuota, Order, OrderEvent, OrderLineEdition, OrderStatus
from apps.payments.services import orders as payment_orders
from apps.payments.tasks import expire_pending
from marketplace.errors import InvalidState
from tests.factories import ShopperFactory, place_order

LATER = timedelta(hours=1)


def _expire(order):
    return services.order_expire(order_id=order.pk, now=order.expires_at + timedelta(seconds=1))


def _paid(order):
    return services.order_mark_paid(order_id=order.pk)


def _fulfilled(order):
    _paid(order)
    return services.order_mark_fulfilled(order_id=order.pk)


def _status(order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def _events(order) -> list[tuple[str, str]]:
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("from_status", "to_status"))


@pytest.fixture
def order(shopper, drop, download, service_slot):
    return place_order(shopper, (drop, 2), (download, 1), (service_slot.product, 1, service_slot))


# (name, how to reach the source state, the call, the target)
TRANSITIONS = [
    ("cancel", lambda o: o, lambda o: services.order_cancel(order_id=o.pk), OrderStatus.CANCELLED),
    ("expire", lambda o: o, _expire, OrderStatus.EXPIRED),
    ("pay", lambda o: o, _paid, OrderStatus.PAID),
    ("fulfil", _paid, lambda o: services.order_mark_fulfilled(order_id=o.pk), OrderStatus.FULFILLED),
    ("refund", _paid, lambda o: services.order_mark_refunded(order_id=o.pk, partial=False), OrderStatus.REFUNDED),
    ("refund from fulfilled", _fulfilled, lambda o: services.order_mark_refunded(order_id=o.pk, partial=False),
     OrderStatus.REFUNDED),
]


@pytest.mark.parametrize(("name", "reach", "call", "target"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
def test_transition_called_twice_is_a_no_op(order, name, reach, call, target):
    reach(order)
    call(order)
    events = _events(order)

    again = call(order)

    assert again.status == target == _status(order)
    assert _events(order) == events
    assert events[-1][1] == target


WRONG = [
    ("cancel a paid order", _paid, lambda o: services.order_cancel(order_id=o.pk)),
    ("cancel an expired order", _expire, lambda o: services.order_cancel(order_id=o.pk)),
    ("expire a cancelled order", lambda o: services.order_cancel(order_id=o.pk), _expire),
    ("expire a paid order", _paid, _expire),
    ("pay a cancelled order", lambda o: services.order_cancel(order_id=o.pk), _paid),
    ("pay an expired order", _expire, _paid),
    ("fulfil a pending order", lambda o: o, lambda o: services.order_mark_fulfilled(order_id=o.pk)),
    ("refund a pending order", lambda o: o, lambda o: services.order_mark_refunded(order_id=o.pk, partial=False)),
    ("partially refund a cancelled order", lambda o: services.order_cancel(order_id=o.pk),
     lambda o: services.order_mark_refunded(order_id=o.pk, partial=True)),
    ("partially refund a refunded order", lambda o: (_paid(o), services.order_mark_refunded(order_id=o.pk, partial=False)),
     lambda o: services.order_mark_refunded(order_id=o.pk, partial=True)),
]


@pytest.mark.parametrize(("name", "reach", "call"), WRONG, ids=[w[0] for w in WRONG])
def test_transition_from_a_wrong_state_is_refused(order, name, reach, call):
    reach(order)
    before = (_status(order), _events(order))

    with pytest.raises(InvalidState):
        call(order)

    assert (_status(order), _events(order)) == before


def test_partial_refunds_are_each_recorded(order):
    _paid(order)

    services.order_mark_refunded(order_id=order.pk, partial=True, payload={"amount": 100})
    services.order_mark_refunded(order_id=order.pk, partial=True, payload={"amount": 200})

    assert _events(order)[-2:] == [(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED),
                                   (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.PARTIALLY_REFUNDED)]


def _assert_everything_released(drop, download, service_slot, shopper):
    assert not Edition.objects.filter(product=drop).exclude(status=EditionStatus.AVAILABLE).exists()
    assert Product.objects.get(pk=download.pk).stock_taken == 0
    assert ServiceSlot.objects.get(pk=service_slot.pk).taken == 0
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 0
    assert not OrderLineEdition.objects.exists()


@pytest.mark.parametrize("release", [lambda o: services.order_cancel(order_id=o.pk), _expire], ids=["cancel", "expire"])
def test_cancel_and_expire_release_every_hold_once(order, shopper, drop, download, service_slot, release):
    serials = sorted(OrderLineEdition.objects.filter(line__order=order).values_list("edition__serial", flat=True))

    release(order)
    release(order)  # repeated: must not give anything back twice

    _assert_everything_released(drop, download, service_slot, shopper)
    assert OrderEvent.objects.filter(order=order).last().payload == {"released_serials": serials}


def test_paid_order_turns_its_editions_sold(order, drop):
    _paid(order)

    assert Edition.objects.filter(product=drop, status=EditionStatus.SOLD).count() == 2
    assert not Edition.objects.filter(product=drop, status=EditionStatus.HELD).exists()
    assert OrderLineEdition.objects.filter(line__order=order).count() == 2


def test_expire_before_the_deadline_is_refused(order):
    with pytest.raises(InvalidState):
        services.order_expire(order_id=order.pk, now=order.expires_at - timedelta(seconds=1))
    assert _status(order) == OrderStatus.PENDING_PAYMENT


def test_sold_out_flag_is_cleared_only_after_the_release_commits(exhibitor_a, django_capture_on_commit_callbacks):
    from tests.factories import ProductFactory

    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=1)
    order = place_order(ShopperFactory(), (product, 1))
    catalog_services.inventory_flag_sold_out(product_ids=[product.pk])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.order_cancel(order_id=order.pk)
    assert catalog_services.inventory_flags(product_ids=[product.pk])[0] == {product.pk}

    for callback in callbacks:
        callback()
    assert catalog_services.inventory_flags(product_ids=[product.pk])[0] == set()


def test_sweep_expires_only_due_pending_orders_in_batches(drop, exhibitor_a):
    from tests.factories import ProductFactory

    product = ProductFactory(exhibitor=exhibitor_a, stock_total=None)
    due = [place_order(ShopperFactory(), (product, 1)) for _ in range(5)]
    paid = place_order(ShopperFactory(), (product, 1))
    _paid(paid)
    later = place_order(ShopperFactory(), (drop, 1))
    Order.objects.filter(pk__in=[o.pk for o in [*due, paid]]).update(expires_at=timezone.now() - LATER)

    expired = payment_orders.orders_expire_due(batch_size=2)

    assert expired == 5
    assert set(Order.objects.filter(status=OrderStatus.EXPIRED).values_list("pk", flat=True)) == {o.pk for o in due}
    assert _status(paid) == OrderStatus.PAID
    assert _status(later) == OrderStatus.PENDING_PAYMENT
    assert payment_orders.orders_expire_due() == 0  # idempotent


def test_expire_task_runs_the_sweep_and_clears_flags_after_commit(shopper, drop, django_capture_on_commit_callbacks):
    order = place_order(shopper, (drop, 1))
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - LATER)
    catalog_services.inventory_flag_sold_out(product_ids=[drop.pk])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert expire_pending() == 1

    assert len(callbacks) == 1
    assert _status(order) == OrderStatus.EXPIRED
    assert catalog_services.inventory_flags(product_ids=[drop.pk])[0] == set()
