"""Races on real Postgres: threads released together by a barrier, each on its own connection.

The services are called directly (the HTTP path is covered by test_api.py). Postgres allows ~100
connections shared with colleagues' runs, so "N buyers" run on at most 25 threads, each thread
buying for several buyers back to back right after the barrier.
"""

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.catalog.models import Edition, EditionStatus, Product, ServiceSlot
from apps.orders import services
from apps.orders.models import CustomerProductQuota, Order, OrderEvent, OrderLineEdition, OrderStatus
from apps.orders.services import LineRequest
from apps.payments.services import orders as payment_orders
from marketplace.errors import InvalidState
from tests.factories import ExhibitorFactory, ProductFactory, ServiceSlotFactory, ShopperFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MAX_THREADS = 25


def run_together(jobs: list[Callable[[], Any]], threads: int = MAX_THREADS) -> list[Any]:
    """Run `jobs` on up to `threads` threads started at once; returns each job's result or exception."""
    results: list[Any] = [None] * len(jobs)
    barrier = threading.Barrier(min(threads, len(jobs)))

    def worker(indexes: list[int]) -> None:
        try:
            barrier.wait()
            for i in indexes:
                try:
                    results[i] = jobs[i]()
                except Exception as exc:  # collected and asserted on by the test
                    results[i] = exc
        finally:
            connection.close()

    count = min(threads, len(jobs))
    pool = [threading.Thread(target=worker, args=([i for i in range(len(jobs)) if i % count == t],)) for t in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    return results


def outcome(result: Any) -> str:
    return "ok" if isinstance(result, Order) else getattr(result, "code", repr(result))


def test_200_buyers_for_50_editions_sell_exactly_50_each_serial_once():
    drop = ProductFactory(collectible=True, edition_size=50)
    buyers = [ShopperFactory() for _ in range(200)]
    jobs = [lambda u=u: services.order_place(user=u, lines=[LineRequest(product_id=drop.pk, quantity=1)]) for u in buyers]

    results = run_together(jobs)

    assert Counter(outcome(r) for r in results) == {"ok": 50, "sold_out": 150}
    serials = list(OrderLineEdition.objects.filter(line__product=drop).values_list("edition__serial", flat=True))
    assert sorted(serials) == list(range(1, 51))
    assert Edition.objects.filter(product=drop, status=EditionStatus.HELD).count() == 50
    assert Order.objects.count() == 50


def test_100_buyers_for_a_slot_of_capacity_3_book_exactly_3():
    slot = ServiceSlotFactory(capacity=3)
    buyers = [ShopperFactory() for _ in range(100)]
    jobs = [lambda u=u: services.order_place(user=u, lines=[LineRequest(product_id=slot.product_id, quantity=1, slot_id=slot.pk)])
            for u in buyers]

    results = run_together(jobs)

    assert Counter(outcome(r) for r in results) == {"ok": 3, "slot_full": 97}
    assert ServiceSlot.objects.get(pk=slot.pk).taken == 3
    assert Order.objects.count() == 3


def test_one_shopper_firing_20_orders_at_a_limit_2_drop_gets_exactly_2():
    drop = ProductFactory(collectible=True, edition_size=25, per_customer_limit=2)
    shopper = ShopperFactory()
    jobs = [lambda: services.order_place(user=shopper, lines=[LineRequest(product_id=drop.pk, quantity=1)]) for _ in range(20)]

    results = run_together(jobs, threads=20)

    assert Counter(outcome(r) for r in results) == {"ok": 2, "limit_exceeded": 18}
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 2
    assert Edition.objects.filter(product=drop, status=EditionStatus.HELD).count() == 2


@pytest.mark.parametrize("rival", ["cancel", "pay"])
def test_an_order_racing_its_expiry_sweep_ends_in_exactly_one_state(rival):
    exhibitor = ExhibitorFactory()
    drop = ProductFactory(exhibitor=exhibitor, collectible=True, edition_size=20, per_customer_limit=20)
    stocked = ProductFactory(exhibitor=exhibitor, stock_total=50)
    slot = ServiceSlotFactory(product=ProductFactory(exhibitor=exhibitor, service=True), capacity=20)
    shopper = ShopperFactory()

    def place() -> Order:
        return services.order_place(user=shopper, lines=[
            LineRequest(product_id=drop.pk, quantity=1), LineRequest(product_id=stocked.pk, quantity=1),
            LineRequest(product_id=slot.product_id, quantity=1, slot_id=slot.pk),
        ])

    # A bystander order holds one of everything: a double release would show in the counters.
    bystander = place()
    rounds = 8
    finals: list[str] = []
    for _ in range(rounds):
        order = place()
        Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        act = {"cancel": lambda o=order: payment_orders.order_cancel_with_payment(order_id=o.pk),
               "pay": lambda o=order: services.order_mark_paid(order_id=o.pk)}[rival]

        results = run_together([act, payment_orders.orders_expire_due], threads=2)

        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, InvalidState)], results
        final = Order.objects.values_list("status", flat=True).get(pk=order.pk)
        finals.append(final)
        transitions = OrderEvent.objects.filter(order=order).exclude(from_status="").values_list("to_status", flat=True)
        assert list(transitions) == [final]  # exactly one transition out of pending

    print("race outcomes:", Counter(finals))
    paid = finals.count(OrderStatus.PAID)
    assert set(finals) <= {OrderStatus.EXPIRED, OrderStatus.CANCELLED if rival == "cancel" else OrderStatus.PAID}
    # everything released once: only the bystander's and the paid orders' units remain taken
    assert ServiceSlot.objects.get(pk=slot.pk).taken == 1 + paid
    assert Product.objects.get(pk=stocked.pk).stock_taken == 1 + paid
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 1 + paid
    assert Edition.objects.filter(product=drop, status=EditionStatus.HELD).count() == 1
    assert Edition.objects.filter(product=drop, status=EditionStatus.SOLD).count() == paid
    assert Order.objects.get(pk=bystander.pk).status == OrderStatus.PENDING_PAYMENT


def test_race_helpers_report_unexpected_errors():
    # The helpers above must not hide failures: a job's exception is returned, not swallowed.
    results = run_together([lambda: 1 / 0, lambda: 2], threads=2)

    assert isinstance(results[0], ZeroDivisionError)
    assert results[1] == 2
