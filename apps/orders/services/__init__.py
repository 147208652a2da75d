"""Writes for orders, split by sub-domain: placement (validation, holds, the claim transaction),
transitions (the order state machine and audit notes), quotas (per-customer limits) and attention
(fulfilment and refund support). Other apps import from here."""

from apps.orders.services.attention import (
    order_clear_attention,
    order_flag_attention,
    order_lines_release_quotas,
    order_lines_unlink_editions,
)
from apps.orders.services.bundles import MAX_BUNDLE_COMPONENTS
from apps.orders.services.placement import MAX_LINES, MAX_QUANTITY, LineRequest, order_place
from apps.orders.services.transitions import (
    order_cancel,
    order_expire,
    order_mark_fulfilled,
    order_mark_paid,
    order_mark_paid_late,
    order_mark_refunded,
    order_record_note,
)

__all__ = ["MAX_LINES", "MAX_QUANTITY", "LineRequest", "order_cancel", "order_clear_attention", "order_expire",
           "order_flag_attention", "order_lines_release_quotas", "order_lines_unlink_editions", "order_mark_fulfilled",
           "order_mark_paid", "order_mark_paid_late", "order_mark_refunded", "order_place", "order_record_note"]
__all__ += ["MAX_BUNDLE_COMPONENTS"]
