"""Sales and refunds of the booth day: the sold lines `user` may see, per period and per day/hour."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, FilteredRelation, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone

from apps.operations.dashboard.formatting import local_day_start
from apps.operations.dashboard.selectors.results import DAYS_CHARTED, SOLD_STATUSES, PeriodFigures, SeriesPoint
from apps.orders.models import OrderLine, OrderStatus
from apps.payments.models import RefundAllocation, RefundKind, RefundStatus
from marketplace.tenancy import scope_to_user

# --- Building blocks -------------------------------------------------------------------------------


def sold_lines(user: Any, *, exhibitor_id: int | None = None) -> QuerySet[Any]:
    """Lines of paid orders `user` may see, annotated with `paid_at` (the order's paid event; its
    placing time for an order that somehow has none)."""
    lines = scope_to_user(OrderLine.objects.all(), user, path="exhibitor_id").filter(order__status__in=SOLD_STATUSES)
    if exhibitor_id is not None:
        lines = lines.filter(exhibitor_id=exhibitor_id)
    return lines.annotate(
        paid_event=FilteredRelation("order__events", condition=Q(order__events__to_status=OrderStatus.PAID)),
        paid_at=Coalesce(F("paid_event__created_at"), F("order__created_at")),
    )


def _order_refunds(user: Any, *, exhibitor_id: int | None = None) -> QuerySet[RefundAllocation]:
    allocations = scope_to_user(RefundAllocation.objects.all(), user, path="exhibitor_id").filter(
        refund__kind=RefundKind.ORDER, refund__status=RefundStatus.SUCCEEDED)
    if exhibitor_id is not None:
        allocations = allocations.filter(exhibitor_id=exhibitor_id)
    return allocations.annotate(refunded_at=Coalesce(F("refund__succeeded_at"), F("refund__updated_at")))


def _sum_into(target: dict[str, int], currency: str, amount: int | None) -> None:
    if amount:
        target[currency] = target.get(currency, 0) + amount


def sales_periods(user: Any, *, today_start: datetime, week_start_at: datetime) -> tuple[PeriodFigures, ...]:
    """(today, this week, all time) for `user`'s scope. Two queries."""
    since_today, since_week = Q(paid_at__gte=today_start), Q(paid_at__gte=week_start_at)
    rows = sold_lines(user).values("currency").annotate(
        rev_today=Sum("total", filter=since_today), rev_week=Sum("total", filter=since_week), rev_total=Sum("total"),
        orders_today=Count("order_id", distinct=True, filter=since_today),
        orders_week=Count("order_id", distinct=True, filter=since_week),
        orders_total=Count("order_id", distinct=True),
        units_today=Sum("quantity", filter=since_today), units_week=Sum("quantity", filter=since_week),
        units_total=Sum("quantity"),
    ).order_by("currency")
    refunded_today, refunded_week = Q(refunded_at__gte=today_start), Q(refunded_at__gte=week_start_at)
    refund_rows = _order_refunds(user).values(currency=F("refund__currency")).annotate(
        today=Sum("amount", filter=refunded_today), week=Sum("amount", filter=refunded_week), total=Sum("amount"),
    ).order_by("currency")
    figures = {}
    for period in ("today", "week", "total"):
        revenue: dict[str, int] = {}
        refunds: dict[str, int] = {}
        orders = units = 0
        for row in rows:
            _sum_into(revenue, row["currency"], row[f"rev_{period}"])
            orders += row[f"orders_{period}"] or 0
            units += row[f"units_{period}"] or 0
        for row in refund_rows:
            _sum_into(refunds, row["currency"], row[period])
        figures[period] = PeriodFigures(revenue=revenue, refunds=refunds, orders=orders, units=units)
    return figures["today"], figures["week"], figures["total"]


def sales_series(user: Any, *, today: date, days: int = DAYS_CHARTED) -> tuple[list[SeriesPoint], list[SeriesPoint]]:
    """Revenue, orders and units per local day (the last `days`, today included) and per hour
    of today, every bar present. One grouped query (by hour over the period)."""
    tz = timezone.get_default_timezone()
    first_day = today - timedelta(days=days - 1)
    rows = (
        sold_lines(user).filter(paid_at__gte=local_day_start(first_day))
        .annotate(hour=TruncHour("paid_at", tzinfo=tz))
        .values("currency", "hour")
        .annotate(revenue=Sum("total"), orders=Count("order_id", distinct=True), units=Sum("quantity"))
        .order_by()
    )
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    by_hour: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        local = timezone.localtime(row["hour"], tz)
        by_day[local.date()].append(row)
        if local.date() == today:
            by_hour[local.hour].append(row)

    def point(start: datetime, group: list[dict[str, Any]]) -> SeriesPoint:
        revenue: dict[str, int] = {}
        for row in group:
            _sum_into(revenue, row["currency"], row["revenue"])
        return SeriesPoint(start=start, revenue=revenue, orders=sum(r["orders"] for r in group),
                           units=sum(r["units"] or 0 for r in group))

    day_points = [point(local_day_start(first_day + timedelta(days=i)), by_day[first_day + timedelta(days=i)])
                  for i in range(days)]
    midnight = local_day_start(today)
    hour_points = [point(timezone.localtime(midnight + timedelta(hours=h), tz), by_hour[h]) for h in range(24)]
    return day_points, hour_points
