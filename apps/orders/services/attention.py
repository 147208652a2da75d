"""Fulfilment and refund support: flagging an order for operators' attention, and detaching what
refunded lines held (editions, per-customer units)."""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import structlog
from django.db import transaction

from apps.orders.models import Order, OrderEvent, OrderLine, OrderLineEdition
from apps.orders.services.quotas import _release_quotas

logger = structlog.get_logger(__name__)


def order_flag_attention(*, order_id: Any, error: str) -> bool:
    """A paid order could not be fulfilled: show it to operators (`needs_attention`) with the error.

    Writes an OrderEvent with the error in the same transaction. Idempotent: an order already
    flagged is left as it is (returns False); returns True when this call flagged it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.needs_attention:
            return False
        order.needs_attention = True
        order.save(update_fields=["needs_attention", "updated_at"])
        OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, note="needs attention",
                                  payload={"error": error[:2000]})
    logger.warning("order_needs_attention", order_id=str(order_id), error=error[:200])
    return True


def order_clear_attention(*, order_id: Any, actor: Any = None, note: str = "attention cleared") -> bool:
    """Clear `needs_attention` (an operator retries). Idempotent: returns False if it was not set."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.needs_attention:
            return False
        order.needs_attention = False
        order.save(update_fields=["needs_attention", "updated_at"])
        OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, actor=actor, note=note)
    return True


def order_lines_unlink_editions(*, line_ids: Sequence[int]) -> list[int]:
    """Detach the editions sold by these lines (a refund gives them back to the exhibitor).

    Returns the edition ids unlinked, so the caller can return them to the catalog. Must run in
    the caller's transaction; idempotent (a second call finds nothing to unlink).
    """
    links = list(OrderLineEdition.objects.select_for_update().filter(line_id__in=list(line_ids)).values_list("id", "edition_id"))
    if links:
        OrderLineEdition.objects.filter(id__in=[link_id for link_id, _ in links]).delete()
    return [edition_id for _, edition_id in links]


def order_lines_release_quotas(*, order_id: Any, line_ids: Sequence[int]) -> int:
    """Give back the per-customer units counted by refunded lines: limits count open and paid
    orders only, so a refunded shopper may buy again.

    Must run in the caller's transaction (the refund's). Idempotent: each line's `quota_counted`
    is zeroed under its row lock, so a second call releases nothing. Returns the units released.
    """
    lines = list(OrderLine.objects.select_for_update().filter(order_id=order_id, id__in=list(line_ids), quota_counted__gt=0)
                 .order_by("id").values_list("id", "product_id", "quota_counted"))
    if not lines:
        return 0
    counted: Counter[int] = Counter()
    for _line_id, product_id, units in lines:
        counted[product_id] += units
    OrderLine.objects.filter(id__in=[line_id for line_id, _, _ in lines]).update(quota_counted=0)
    user_id = Order.objects.values_list("user_id", flat=True).get(pk=order_id)
    _release_quotas(user_id=user_id, counted=dict(counted))
    return sum(counted.values())
