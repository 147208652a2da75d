"""Reads for orders. A shopper sees only their own orders; anything else answers 404."""

import uuid
from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.orders.models import Order, OrderEvent, OrderLine
from apps.payments.models import Payment
from marketplace.errors import NotFound
from marketplace.tenancy import scope_to_user


def _with_lines_and_payments(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
        Prefetch("payments", queryset=Payment.objects.order_by("-attempt"), to_attr="payments_newest_first"),
    )


def order_list_for_shopper(*, user: Any) -> QuerySet[Order]:
    """The shopper's own orders, newest first, lines and payments prefetched (3 queries a page)."""
    return _with_lines_and_payments(Order.objects.filter(user=user))


def order_get_for_shopper(*, user: Any, order_id: str) -> Order:
    """One of the shopper's orders. Raises NotFound for a foreign, unknown or malformed id alike."""
    try:
        pk = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise NotFound() from exc
    order = order_list_for_shopper(user=user).filter(pk=pk).first()
    if order is None:
        raise NotFound()
    return order


def order_latest_payment(order: Order) -> Payment | None:
    """The newest payment attempt of an order read through the selectors above (no query)."""
    payments = getattr(order, "payments_newest_first", None)
    if payments is None:
        payments = list(order.payments.order_by("-attempt")[:1])
    return payments[0] if payments else None


def order_line_list_for_user(*, user: Any) -> QuerySet[OrderLine]:
    """Order lines an admin user may see: all for operators, their exhibitors' for staff."""
    return scope_to_user(OrderLine.objects.select_related("order", "product", "slot"), user, path="exhibitor_id")


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("actor").order_by("created_at", "id")
