"""A shopper's cancel racing their own payment, on real Postgres with threads on a barrier.

Each round: an order with its (simulated) payment attempt; one thread cancels it
(`order_cancel`, what POST /orders/{id}/cancel calls), the other pays it the way a Stripe webhook
arrives (`payment_simulate` stores the event, then the `payments.webhook_process` task runs it).
Every round must end in one of two stories, never a third: cancelled (200) and never charged,
or refused (409) and paid, then fulfilled.
"""

import threading
from collections import Counter
from typing import Any

import pytest

from apps.catalog.models import Edition, EditionStatus, Product
from apps.fulfilment.models import Entitlement
from apps.orders.models import Order, OrderEvent, OrderStatus
from apps.payments.models import LedgerEntry, Payment, PaymentStatus, Refund
from apps.payments.services import orders as payment_orders
from apps.payments.services import payment_create_for_order, payment_simulate
from apps.payments.services.webhooks import webhook_process
from marketplace.errors import DomainError
from tests.factories import ExhibitorFactory, ProductFactory, ShopperFactory, place_order
from tests.orders.test_races import run_together

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROUNDS = 20


class Tasks:
    """Celery's send_task, recorded (thread-safe) and run by hand after the race."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, args: Any = None, kwargs: dict[str, Any] | None = None, **options: Any) -> None:
        with self.lock:
            self.sent.append((name, dict(kwargs or {})))

    def run_all(self) -> None:
        from apps.fulfilment import tasks as fulfilment_tasks
        from apps.payments import tasks as payment_tasks

        handlers = {"payments.webhook_process": payment_tasks.webhook_process,
                    "payments.refund_send": payment_tasks.refund_send,
                    "fulfilment.fulfil_order": fulfilment_tasks.fulfil_order}
        done = 0
        while done < len(self.sent):
            name, kwargs = self.sent[done]
            done += 1
            if name in handlers:
                handlers[name].run(**kwargs)


@pytest.fixture
def tasks(monkeypatch, settings) -> Tasks:
    from config.celery import app

    settings.PAYMENT_PROVIDER = "simulated"
    recorder = Tasks()
    monkeypatch.setattr(app, "send_task", recorder)
    return recorder


def _pay(order: Order) -> str:
    """The shopper pays at the provider, and the provider's webhook is processed (the task path)."""
    payment = payment_simulate(order=order, outcome="succeeded")
    event_id = f"sim_evt_{payment.pk}_succeeded"
    from apps.payments.models import WebhookEvent

    event = WebhookEvent.objects.filter(provider="simulated", event_id=event_id).first()
    if event is None:  # refused: the payment was cancelled first
        return "refused"
    return webhook_process(event_pk=event.pk)


def test_cancel_racing_a_payment_ends_cancelled_and_uncharged_or_refused_and_paid(tasks):
    exhibitor = ExhibitorFactory()
    drop = ProductFactory(exhibitor=exhibitor, collectible=True, edition_size=ROUNDS, price=8800)
    stocked = ProductFactory(exhibitor=exhibitor, pass_=True, stock_total=ROUNDS, price=1999)
    shopper = ShopperFactory()
    stories: Counter[str] = Counter()

    for _ in range(ROUNDS):
        order = place_order(shopper, (drop, 1), (stocked, 1))
        payment_create_for_order(order=order)
        stale = Order.objects.get(pk=order.pk)  # what the paying request loaded: pending

        cancel, _paid = run_together([lambda o=order: payment_orders.order_cancel_with_payment(order_id=o.pk, actor=shopper),
                                      lambda o=stale: _pay(o)], threads=2)
        tasks.run_all()  # fulfilment, refunds, the cancel's own webhook

        assert isinstance(cancel, Order | DomainError), cancel
        final = Order.objects.get(pk=order.pk)
        statuses = list(OrderEvent.objects.filter(order=order).exclude(from_status="").values_list("to_status", flat=True))
        captured = LedgerEntry.objects.filter(order=order, kind="capture").count()
        if isinstance(cancel, Order):
            # Told "cancelled": cancelled for good, never paid, no money taken (not even refunded).
            assert cancel.status == final.status == OrderStatus.CANCELLED
            assert OrderStatus.PAID not in statuses
            assert not Payment.objects.filter(order=order, status=PaymentStatus.SUCCEEDED).exists()
            assert captured == 0 and not Refund.objects.filter(order=order).exists()
            assert not Entitlement.objects.filter(order=order).exists()
            stories["cancelled"] += 1
        else:
            # Refused: the money was taken first; the order is paid and delivered.
            assert cancel.status_code == 409 and cancel.code in ("already_paid", "invalid_state"), cancel
            assert final.status == OrderStatus.FULFILLED, final.status
            assert statuses == [OrderStatus.PAID, OrderStatus.FULFILLED]
            assert captured == 1 and not Refund.objects.filter(order=order).exists()
            stories[f"refused:{cancel.code}"] += 1

    print("cancel vs payment:", dict(stories))
    assert sum(stories.values()) == ROUNDS
    # Holds: a cancelled order gave everything back once; a paid one kept its units.
    paid = ROUNDS - stories["cancelled"]
    assert Product.objects.get(pk=stocked.pk).stock_taken == paid
    assert Edition.objects.filter(product=drop, status=EditionStatus.SOLD).count() == paid
    assert Edition.objects.filter(product=drop, status=EditionStatus.AVAILABLE).count() == ROUNDS - paid
