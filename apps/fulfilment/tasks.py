"""Fulfilment tasks. Thin and idempotent (DESIGN.md habit 5): each calls one service.

The base task (marketplace.tasks.BaseTask) acknowledges late, is redelivered when its worker
dies, and retries transient errors (database, Redis, network) with backoff. A fulfilment that
fails for any other reason, or keeps failing after its retries, flags the order for operators.
"""

from typing import Any

from celery import shared_task

from marketplace.tasks import TRANSIENT_ERRORS


@shared_task(bind=True, name="fulfilment.fulfil_order")
def fulfil_order(self: Any, order_id: str) -> int:
    """Fulfil one paid order, and with it a batch of others waiting (each keeps its own task, which
    then finds it done). Idempotent: re-running creates nothing twice. Returns units created."""
    from apps.fulfilment import services

    try:
        return sum(len(units) for units in services.fulfilment_fulfil_orders(order_id=order_id).values())
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            services.fulfilment_flag_failed(order_id=order_id, error=f"{type(exc).__name__}: {exc}")
        raise  # autoretry_for schedules the next attempt with backoff
    except Exception as exc:
        # Not transient (e.g. an empty licence key pool): retrying would not help; an operator will.
        services.fulfilment_flag_failed(order_id=order_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(name="fulfilment.revoke_lines")
def revoke_lines(order_line_ids: list[int], reason: str) -> int:
    """Revoke every entitlement of these order lines and release their inventory. Idempotent."""
    from apps.fulfilment import services

    return services.entitlements_revoke_lines(order_line_ids=order_line_ids, reason=reason)


@shared_task(name="fulfilment.sweep_unfulfilled")
def sweep_unfulfilled() -> int:
    """Beat, every minute: re-enqueue paid orders left unfulfilled past the threshold."""
    from apps.fulfilment import services

    return services.fulfilment_sweep_unfulfilled()
