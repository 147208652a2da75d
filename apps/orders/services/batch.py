"""Order transitions for many orders at once: fulfilment of a batch of paid orders (issue 15).

`transition()` locks, reads and saves one row per call, plus a savepoint: five statements per
order. For a batch the conditional UPDATE is itself the concurrency guarantee (DESIGN.md habit 3:
`record_transition` right after a conditional UPDATE): it moves only the rows still in the source
state, returns them, and each gets the same audit row `_transition` writes (an OrderEvent) in the
same transaction. Orders in another state are left alone, as `order_mark_fulfilled` leaves them.
"""

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import structlog
from django.db import connection, transaction
from django.utils import timezone

from apps.orders.models import ORDER_TRANSITIONS, Order, OrderEvent

logger = structlog.get_logger(__name__)


def orders_mark_fulfilled(*, order_ids: Sequence[Any], actor: Any = None) -> set[Any]:
    """Everything was delivered, for each of `order_ids` that is paid: paid -> fulfilled, with its
    "fulfilled" event. Returns the ids that changed. Idempotent: a fulfilled order is skipped (and
    so is one in any other state; unlike `order_mark_fulfilled`, nothing is raised for it). Runs in
    the caller's transaction when there is one (the fulfilment's, which holds the orders' locks)."""
    if not order_ids:
        return set()
    sources, target = ORDER_TRANSITIONS["fulfil"]
    (source,) = sources
    now = timezone.now()
    table = Order._meta.db_table
    # Inside the caller's transaction the writes already commit together; a savepoint would only
    # add two statements (as marketplace.transitions does).
    with nullcontext() if connection.in_atomic_block else transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, status_changed_at = %s, updated_at = %s "  # noqa: S608 - our table
                "WHERE id = ANY(%s) AND status = %s RETURNING id",
                [target, now, now, list(order_ids), source],
            )
            changed = {row[0] for row in cursor.fetchall()}
        OrderEvent.objects.bulk_create([
            OrderEvent(order_id=order_id, from_status=source, to_status=target, actor=actor, note="fulfilled", payload={})
            for order_id in order_ids if order_id in changed
        ])
    logger.info("transition", model=Order._meta.label, transition="fulfil", from_state=source, to_state=target,
                objects=len(changed))
    return changed
