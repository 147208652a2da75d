"""Fulfilment listens to the layers below it (marketplace/events.py; imported by FulfilmentConfig.ready).

Both subscribers run after the emitter commits and only enqueue: fulfilment and revocation run in
their own tasks, idempotent, re-driven by the fulfilment sweep if a message is lost.
"""

from __future__ import annotations

from typing import Any

from apps.fulfilment import services
from marketplace import events


@events.subscriber("order.paid")
def schedule_fulfilment(*, order_id: str, **_: Any) -> None:
    """An order was paid (payments): deliver its goods."""
    services.fulfilment_schedule(order_id=order_id)


@events.subscriber("refund.succeeded")
def schedule_revocation(*, line_ids: list[int], **_: Any) -> None:
    """Order lines were refunded (payments): revoke their units and give the inventory back.
    An amount-only partial refund names no lines and revokes nothing."""
    services.entitlements_revoke_schedule(order_line_ids=line_ids, reason="refund")
