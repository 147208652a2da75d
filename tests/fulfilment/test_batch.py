"""Fulfilment in batches (issue 15): one task delivers the paid orders waiting with its own, each
exactly once; an order that cannot be delivered is left to its own task; the batch's
notifications are written and sent together."""

from collections import Counter

import pytest

from apps.catalog.models import LicenceKey, LicenceKeyStatus
from apps.fulfilment import services
from apps.fulfilment.errors import FulfilmentFailed
from apps.fulfilment.models import Entitlement
from apps.fulfilment.tasks import fulfil_order
from apps.notifications.models import Notification
from apps.orders.models import Order, OrderEvent, OrderStatus
from tests.factories import ShopperFactory, paid_order
from tests.orders.test_races import run_together

pytestmark = pytest.mark.django_db


def status(order: Order) -> str:
    order.refresh_from_db()
    return order.status


def test_one_task_fulfils_the_waiting_orders_and_their_own_tasks_find_them_done(drop, ebook, exhibitor_a, monkeypatch,
                                                                              django_capture_on_commit_callbacks,
                                                                              django_assert_num_queries):
    # Given three shoppers' paid orders waiting for fulfilment, from an exhibitor with a staff member
    from config.celery import app
    from tests.factories import staff_of

    staff_of(exhibitor_a, email="sales@a.test")
    orders = [paid_order(ShopperFactory(), (drop, 1), (ebook, 1)) for _ in range(3)]
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))

    # When the first order's task runs
    with django_capture_on_commit_callbacks(execute=True):
        created = fulfil_order.run(order_id=str(orders[0].pk))

    # Then all three are fulfilled, each unit once, with one "fulfilled" event each
    assert created == 6
    assert [status(order) for order in orders] == [OrderStatus.FULFILLED] * 3
    units = Counter(Entitlement.objects.filter(order__in=orders).values_list("order_line_id", "unit_index"))
    assert len(units) == 6 and set(units.values()) == {1}
    assert OrderEvent.objects.filter(order__in=orders, to_status=OrderStatus.FULFILLED).count() == 3
    # And the batch's notifications (3 confirmations, 3 sales) go out in one task
    rows = Notification.objects.filter(dedupe_key__startswith="order:")
    assert Counter(rows.values_list("kind", flat=True)) == {"order_confirmed": 3, "new_sale": 3}
    assert sent == [("notifications.send_batch", {"notification_ids": sorted(rows.values_list("pk", flat=True))})]

    # When the other orders' own tasks run (they are still queued), nothing is created twice,
    # and each finds its order delivered with one read
    with django_assert_num_queries(2):
        assert [fulfil_order.run(order_id=str(order.pk)) for order in orders[1:]] == [0, 0]
    assert Entitlement.objects.filter(order__in=orders).count() == 6
    assert Notification.objects.filter(dedupe_key__startswith="order:").count() == 6


def test_an_order_that_cannot_be_delivered_is_left_to_its_own_task(ebook, software):
    # Given a deliverable order, then one wanting more licence keys than the pool holds
    good = paid_order(ShopperFactory(), (ebook, 1))
    short = paid_order(ShopperFactory(), (software, 4))

    # When the good order's task fulfils a batch
    fulfil_order.run(order_id=str(good.pk))

    # Then the good one is fulfilled; the short one is still paid, unflagged, and no key was taken for it
    assert status(good) == OrderStatus.FULFILLED
    assert status(short) == OrderStatus.PAID and not short.needs_attention
    assert LicenceKey.objects.filter(product=software, status=LicenceKeyStatus.ASSIGNED).count() == 0
    assert not Entitlement.objects.filter(order=short).exists()

    # And its own task fails and flags it for operators, as before batches
    with pytest.raises(FulfilmentFailed):
        fulfil_order.run(order_id=str(short.pk))
    short.refresh_from_db()
    assert short.needs_attention and short.status == OrderStatus.PAID


def test_a_task_whose_own_order_fails_fulfils_nothing_else(ebook, software):
    short = paid_order(ShopperFactory(), (software, 4))
    other = paid_order(ShopperFactory(), (ebook, 1))

    with pytest.raises(FulfilmentFailed):
        services.fulfilment_fulfil_orders(order_id=short.pk)

    assert status(other) == OrderStatus.PAID
    assert not Entitlement.objects.exists()


def test_flagged_and_unpaid_orders_are_not_taken_into_a_batch(ebook):
    flagged = paid_order(ShopperFactory(), (ebook, 1))
    Order.objects.filter(pk=flagged.pk).update(needs_attention=True)
    own = paid_order(ShopperFactory(), (ebook, 1))

    done = services.fulfilment_fulfil_orders(order_id=own.pk)

    assert list(done) == [own.pk]
    assert status(flagged) == OrderStatus.PAID


def test_the_batch_is_bounded(ebook):
    orders = [paid_order(ShopperFactory(), (ebook, 1)) for _ in range(4)]

    done = services.fulfilment_fulfil_orders(order_id=orders[-1].pk, batch_size=2)

    assert len(done) == 2 and next(iter(done)) == orders[-1].pk
    assert sorted(status(order) for order in orders) == [OrderStatus.FULFILLED] * 2 + [OrderStatus.PAID] * 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_tasks_racing_over_one_backlog_deliver_every_unit_once(drop, ebook):
    # Given eight paid orders, and their eight tasks released at once on separate connections
    orders = [paid_order(ShopperFactory(), (drop, 1), (ebook, 1)) for _ in range(4)]
    orders += [paid_order(ShopperFactory(), (ebook, 1)) for _ in range(4)]

    results = run_together([lambda order=order: fulfil_order.run(order_id=str(order.pk)) for order in orders])

    # Then every order is fulfilled once: each unit one entitlement, one event, one confirmation
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(results) == 12
    assert [status(order) for order in orders] == [OrderStatus.FULFILLED] * 8
    units = Counter(Entitlement.objects.values_list("order_line_id", "unit_index"))
    assert len(units) == 12 and set(units.values()) == {1}
    assert OrderEvent.objects.filter(to_status=OrderStatus.FULFILLED).count() == 8
    assert Notification.objects.filter(kind="order_confirmed").count() == 8


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_whose_order_another_batch_holds_delivers_the_next_orders_then_its_own(ebook):
    # Given five paid orders, the first held locked by another worker's batch (which will end
    # without delivering it, as a batch that rolled back)
    import threading
    import time

    from django.db import connection, transaction

    orders = [paid_order(ShopperFactory(), (ebook, 1)) for _ in range(5)]
    held, others = orders[0], orders[1:]
    locked, seen = threading.Event(), {}

    def other_batch():
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=held.pk)
                locked.set()
                # it lets go only once the others are delivered (or after 20 s)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    if not Order.objects.filter(pk__in=[o.pk for o in others]).exclude(status=OrderStatus.FULFILLED).exists():
                        seen["others_delivered_while_held"] = True
                        break
                    time.sleep(0.05)
        finally:
            connection.close()

    holder = threading.Thread(target=other_batch)
    holder.start()
    assert locked.wait(10)

    # When the held order's task runs
    created = fulfil_order.run(order_id=str(held.pk))
    holder.join(30)

    # Then it delivered the waiting orders without waiting for the lock, then its own once freed:
    # each order once, one "fulfilled" event each
    assert seen == {"others_delivered_while_held": True}
    assert created == 5
    assert [status(order) for order in orders] == [OrderStatus.FULFILLED] * 5
    assert Counter(Entitlement.objects.values_list("order_id", flat=True)) == {order.pk: 1 for order in orders}
    assert OrderEvent.objects.filter(to_status=OrderStatus.FULFILLED).count() == 5
    assert Notification.objects.filter(kind="order_confirmed").count() == 5


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_many_tasks_over_a_backlog_in_small_batches_deliver_every_order_once(exhibitor_a, software, settings):
    # Given 39 paid orders (three wanting the last three licence keys of a pool), batches of 4,
    # and every order's task released at once on 8 connections: tasks keep meeting orders held by
    # other batches and deliver the next ones meanwhile
    from tests.factories import ProductFactory, add_download_file

    settings.FULFILMENT = {**settings.FULFILMENT, "BATCH_SIZE": 4}
    ebook = ProductFactory(exhibitor=exhibitor_a, price=1999, stock_total=100, download_limit=2, title="Tea Guide")
    add_download_file(ebook)
    orders = [paid_order(ShopperFactory(), (ebook, 1)) for _ in range(36)]
    orders += [paid_order(ShopperFactory(), (software, 1)) for _ in range(3)]

    results = run_together([lambda order=order: fulfil_order.run(order_id=str(order.pk)) for order in orders], threads=8)

    # Then every order is delivered once: one entitlement per unit, each key to one order, one
    # "fulfilled" event and one confirmation per order
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(results) == 39
    assert [status(order) for order in orders] == [OrderStatus.FULFILLED] * 39
    units = Counter(Entitlement.objects.values_list("order_line_id", "unit_index"))
    assert len(units) == 39 and set(units.values()) == {1}
    keys = Counter(Entitlement.objects.filter(product=software).values_list("licence_key_id", flat=True))
    assert len(keys) == 3 and set(keys.values()) == {1}
    assert LicenceKey.objects.filter(product=software, status=LicenceKeyStatus.ASSIGNED).count() == 3
    assert OrderEvent.objects.filter(to_status=OrderStatus.FULFILLED).count() == 39
    confirmations = Counter(Notification.objects.filter(kind="order_confirmed").values_list("dedupe_key", flat=True))
    assert len(confirmations) == 39 and set(confirmations.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_a_key_draw_short_only_because_another_fulfilment_holds_keys_is_retried_not_flagged(software):
    """Another batch holds two of the three keys (it may still roll back and give them back): the
    order is not flagged over keys that exist; the draw raises a transient error the task retries
    with backoff, and succeeds once the keys are free. A pool really too small still fails."""
    import threading

    from django.db import connection, transaction

    from apps.fulfilment.services.fulfil import LicenceKeysBusy, _draw_licence_keys
    from marketplace.tasks import TRANSIENT_ERRORS

    held, release = threading.Event(), threading.Event()

    def other_batch() -> None:
        with transaction.atomic():
            list(LicenceKey.objects.select_for_update().filter(product=software).order_by("id")[:2])
            held.set()
            release.wait(10)
            transaction.set_rollback(True)  # that batch failed: the keys go back
        connection.close()

    thread = threading.Thread(target=other_batch)
    thread.start()
    assert held.wait(10)
    with pytest.raises(LicenceKeysBusy) as busy, transaction.atomic():
        _draw_licence_keys(product_id=software.pk, count=2)
    assert isinstance(busy.value, TRANSIENT_ERRORS)
    release.set()
    thread.join()

    with transaction.atomic():
        drawn, _files = _draw_licence_keys(product_id=software.pk, count=2)
    assert drawn is not None and len(drawn) == 2
    with pytest.raises(FulfilmentFailed), transaction.atomic():
        _draw_licence_keys(product_id=software.pk, count=2)  # one key left, nobody holds the others
