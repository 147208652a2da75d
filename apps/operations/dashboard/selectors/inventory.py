"""Products' sell-through, upcoming service slots and passes of the booth day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce

from apps.catalog.models import Edition, EditionStatus, Product, ProductKind, ServiceSlot
from apps.fulfilment.models import Entitlement, EntitlementStatus
from apps.operations.dashboard.selectors.results import PRODUCT_ROWS, SLOT_ROWS, SOLD_STATUSES, PassFigures, ProductRow, SlotRow
from apps.orders.models import OrderLine
from marketplace.tenancy import scope_to_user


def _count_of(model: Any, **conditions: Any) -> Subquery:
    rows = model.objects.filter(product=OuterRef("pk"), **conditions).values("product").annotate(n=Count("pk"))
    return Subquery(rows.values("n")[:1], output_field=IntegerField())


def _sum_of(model: Any, column: str, **conditions: Any) -> Subquery:
    rows = model.objects.filter(**conditions).values("product").annotate(s=Sum(column))
    return Subquery(rows.values("s")[:1], output_field=IntegerField())


def product_sell_through(user: Any, *, limit: int = PRODUCT_ROWS) -> tuple[list[ProductRow], int]:
    """The best-selling products first (units sold, then newest), at most `limit`, and how many
    products there are in all. One query (correlated subqueries per shown product)."""
    sold = {"product": OuterRef("pk"), "order__status__in": SOLD_STATUSES, "currency": OuterRef("currency")}
    rows = (
        scope_to_user(Product.objects.all(), user, path="exhibitor_id")
        .annotate(
            units_sold=Coalesce(_sum_of(OrderLine, "quantity", **sold), 0),
            revenue=Coalesce(_sum_of(OrderLine, "total", **sold), 0),
            editions_sold=Coalesce(_count_of(Edition, status=EditionStatus.SOLD), 0),
            editions_held=Coalesce(_count_of(Edition, status=EditionStatus.HELD), 0),
            slots_capacity=Coalesce(_sum_of(ServiceSlot, "capacity", product=OuterRef("pk")), 0),
            slots_taken=Coalesce(_sum_of(ServiceSlot, "taken", product=OuterRef("pk")), 0),
            products_count=Window(Count("pk")),
        )
        .order_by("-units_sold", "-revenue", "-created_at", "-pk")
        .values("id", "title", "kind", "exhibitor_id", "currency", "price", "is_published", "units_sold",
                "revenue", "edition_size", "editions_sold", "editions_held", "slots_capacity", "slots_taken",
                "stock_total", "stock_taken", "products_count", title_zh=Coalesce("title_zh_hans", Value("")))[:limit]
    )
    products: list[ProductRow] = []
    count = 0
    for row in rows:
        count = row.pop("products_count")
        products.append(ProductRow(**row))
    return products, count


def upcoming_slots(user: Any, *, now: datetime, limit: int = SLOT_ROWS) -> list[SlotRow]:
    """Service slots not over yet, soonest first. One query."""
    rows = (
        scope_to_user(ServiceSlot.objects.all(), user, path="product__exhibitor_id")
        .filter(ends_at__gt=now)
        .order_by("starts_at", "pk")
        .values("id", "product_id", "starts_at", "ends_at", "capacity", "taken", product_title=F("product__title"),
                product_title_zh=Coalesce("product__title_zh_hans", Value("")), exhibitor_id=F("product__exhibitor_id"))[:limit]
    )
    return [SlotRow(**row) for row in rows]


def pass_figures(user: Any, *, today_start: datetime, now: datetime) -> PassFigures:
    """Passes redeemed today and in all, and those still waiting at the booth. One query."""
    row = scope_to_user(Entitlement.objects.filter(kind=ProductKind.PASS), user, path="exhibitor_id").aggregate(
        redeemed_today=Count("pk", filter=Q(redeemed_at__gte=today_start)),
        redeemed_total=Count("pk", filter=Q(redeemed_at__isnull=False)),
        waiting=Count("pk", filter=Q(status=EntitlementStatus.ACTIVE, redeemed_at__isnull=True)
                      & (Q(valid_until__isnull=True) | Q(valid_until__gt=now))),
    )
    return PassFigures(**row)
