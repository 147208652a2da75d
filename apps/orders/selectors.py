"""Reads for orders. A shopper sees only their own orders; anything else answers 404."""

import uuid
from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.orders.models import Order, OrderEvent, OrderLine
from marketplace.errors import NotFound
from marketplace.tenancy import scope_to_user


def order_list_for_shopper(*, user: Any) -> QuerySet[Order]:
    """The shopper's own orders, lines prefetched (2 queries a page). Payments adds the payment
    attempts for the API's order output (`apps.payments.selectors.order_list_with_payments_for_shopper`)."""
    return Order.objects.filter(user=user).prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))


def order_get_for_shopper(*, user: Any, order_id: str, queryset: QuerySet[Order] | None = None) -> Order:
    """One of the shopper's orders (from `queryset`, by default `order_list_for_shopper`). Raises
    NotFound for a foreign, unknown or malformed id alike."""
    try:
        pk = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise NotFound() from exc
    order = (queryset if queryset is not None else order_list_for_shopper(user=user)).filter(user=user, pk=pk).first()
    if order is None:
        raise NotFound()
    return order


def order_line_list_for_user(*, user: Any) -> QuerySet[OrderLine]:
    """Order lines an admin user may see: all for operators, their exhibitors' for staff."""
    return scope_to_user(OrderLine.objects.select_related("order", "product", "slot"), user, path="exhibitor_id")


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("actor").order_by("created_at", "id")
