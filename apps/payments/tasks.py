"""Payments tasks: thin and idempotent (DESIGN.md habit 5); each reloads by id and calls a service."""

from typing import Any

from celery import shared_task

from apps.payments.providers import PaymentProviderError
from marketplace.tasks import TRANSIENT_ERRORS, BaseTask

RETRY_ON = (*TRANSIENT_ERRORS, PaymentProviderError)


@shared_task(name="payments.webhook_process", base=BaseTask, autoretry_for=RETRY_ON)
def webhook_process(event_pk: int, replay: bool = False) -> str:
    """Process one stored provider event (routes to the `webhooks` queue by name)."""
    from apps.payments.services.webhooks import webhook_process as process

    return process(event_pk=event_pk, replay=replay)


@shared_task(name="payments.transfers_create", base=BaseTask)
def transfers_create(order_id: str) -> dict[str, int]:
    """Pay out (or correct the payouts of) one order's exhibitors."""
    from apps.payments.services.payouts import payouts_settle_order

    return payouts_settle_order(order_id=order_id)


@shared_task(name="payments.refund_send", base=BaseTask)
def refund_send(refund_id: int) -> str:
    from apps.payments.services.refunds import refund_send as send

    return send(refund_id=refund_id)


@shared_task(name="payments.reconcile", base=BaseTask)
def reconcile() -> dict[str, Any]:
    """Beat, every 10 minutes: finish what lost webhooks and crashed workers left behind."""
    from apps.payments.services.reconcile import payments_reconcile

    return payments_reconcile()


@shared_task(name="orders.expire_pending")
def expire_pending() -> int:
    """Beat, every minute: expire unpaid orders past their hold, batch by batch. Safe to overlap.

    Here, not in orders, because the sweep cancels the provider's payment attempts first; the
    task keeps its name (`orders.expire_pending`, the beat schedule's entry)."""
    from apps.payments.services.orders import orders_expire_due

    return orders_expire_due()
