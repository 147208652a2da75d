"""Order tasks. Thin and idempotent (DESIGN.md habit 5): each calls one service."""

from celery import shared_task

from apps.orders import services


@shared_task(name="orders.expire_pending")
def expire_pending() -> int:
    """Beat, every minute: expire unpaid orders past their hold, batch by batch. Safe to overlap."""
    return services.orders_expire_due()
