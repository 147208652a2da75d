"""Helpers shared by the payments services: after-commit enqueueing, the ledger, commission,
and raising a problem to operators."""

from typing import Any

import structlog
from django.db import transaction

from apps.notifications import services as notification_services
from apps.payments.models import LedgerEntry, Payment

logger = structlog.get_logger(__name__)


def send_task(name: str, kwargs: dict[str, Any]) -> None:
    """Send one Celery task by name; a broker error is logged (the reconcile sweep catches up)."""
    from config.celery import app

    try:
        app.send_task(name, kwargs=kwargs)
    except Exception:  # broker down: the beat sweep re-drives whatever was not done
        logger.warning("payments_enqueue_failed", task=name, exc_info=True)


def enqueue_after_commit(name: str, **kwargs: Any) -> None:
    """Enqueue `name` once the current transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: send_task(name, kwargs))


def commission_of(gross: int, bps: int) -> int:
    """Platform commission on `gross` minor units at `bps` basis points, rounded half up.

    Non-decreasing in `gross`, and so is `gross - commission` for bps ≤ 10000: lowering the gross
    (a refund) never raises what the exhibitor or the platform keeps."""
    if gross <= 0:
        return 0
    return (gross * bps + 5000) // 10000


def ledger_write(*, key: str, kind: str, order_id: Any, amount: int, currency: str,
                 exhibitor_id: int | None = None) -> None:
    """Append one movement. Idempotent on `key` (INSERT ... ON CONFLICT DO NOTHING): writing the
    same movement twice records it once."""
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(key=key, kind=kind, order_id=order_id, amount=amount, currency=currency, exhibitor_id=exhibitor_id)],
        ignore_conflicts=True,
    )


def notify(*, kind: str, context: dict[str, Any], dedupe_key: str, recipient_user_id: int | None = None,
           recipient_email: str | None = None, exhibitor_id: int | None = None) -> None:
    """Queue a notification through the notifications outbox (sent after commit, deduplicated)."""
    notification_services.notification_enqueue(kind=kind, recipient_user_id=recipient_user_id, recipient_email=recipient_email,
                         exhibitor_id=exhibitor_id, context=context, dedupe_key=dedupe_key)


def raise_to_operators(*, reason: str, dedupe_key: str, order_id: Any = None, payment_id: int | None = None,
                       context: dict[str, Any] | None = None) -> None:
    """Flag a payment (filterable `needs_attention`) and notify operators (kind operator_attention).
    Idempotent per `dedupe_key`."""
    if payment_id is not None:
        Payment.objects.filter(pk=payment_id).update(needs_attention=True, attention_reason=reason[:500])
    logger.warning("payments_operator_attention", reason=reason, order_id=str(order_id), payment_id=payment_id)
    notify(kind="operator_attention", dedupe_key=dedupe_key,
           context={"reason": reason, "order_id": str(order_id) if order_id else None, "payment_id": payment_id,
                    **(context or {})})
