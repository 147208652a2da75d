"""Helpers shared by the payments services: the ledger, commission, and raising a problem to
operators. (Tasks are enqueued with marketplace.tasks.enqueue_on_commit.)"""

from typing import Any

import structlog

from apps.payments.models import LedgerEntry, Payment
from marketplace import events

logger = structlog.get_logger(__name__)


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


def raise_to_operators(*, reason: str, dedupe_key: str, order_id: Any = None, payment_id: int | None = None,
                       context: dict[str, Any] | None = None) -> None:
    """Flag a payment (filterable `needs_attention`) and emit "operator.attention_needed"
    (notifications writes the operators' message in the current transaction). Idempotent per
    `dedupe_key`."""
    if payment_id is not None:
        Payment.objects.filter(pk=payment_id).update(needs_attention=True, attention_reason=reason[:500])
    logger.warning("payments_operator_attention", reason=reason, order_id=str(order_id), payment_id=payment_id)
    events.emit("operator.attention_needed", reason=reason, dedupe_key=dedupe_key,
                context={"order_id": str(order_id) if order_id else None, "payment_id": payment_id, **(context or {})})
