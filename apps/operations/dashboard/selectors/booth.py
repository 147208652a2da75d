"""The booth day: every figure of the admin home page for one user, and the per-exhibitor rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.exhibitors.models import Exhibitor
from apps.operations.dashboard.formatting import local_day_start, local_today, week_start
from apps.operations.dashboard.selectors.inventory import pass_figures, product_sell_through, upcoming_slots
from apps.operations.dashboard.selectors.payouts import payout_figures, payout_rows
from apps.operations.dashboard.selectors.results import BoothDay, ExhibitorRow
from apps.operations.dashboard.selectors.sales import _order_refunds, _sum_into, sales_periods, sales_series, sold_lines
from marketplace.tenancy import is_operator, scope_to_user


def exhibitor_rows(user: Any, *, today_start: datetime, payouts: list[dict[str, Any]]) -> list[ExhibitorRow]:
    """Every exhibitor in scope; when there are several (operators, staff of more than one),
    with its sales today and in all, refunds and pending payouts, best-selling today first.
    One query, three with the figures."""
    exhibitors = list(scope_to_user(Exhibitor.objects.all(), user, path="id")
                      .values("id", "name", "hall", "booth", name_zh=Coalesce("name_zh_hans", Value(""))).order_by("name", "id"))
    rows = {e["id"]: ExhibitorRow(**e) for e in exhibitors}
    if len(rows) <= 1 and not is_operator(user):
        return list(rows.values())
    since_today = Q(paid_at__gte=today_start)
    for sale in sold_lines(user).values("exhibitor_id", "currency").annotate(
        today=Sum("total", filter=since_today), total=Sum("total"),
        orders_today=Count("order_id", distinct=True, filter=since_today), orders_total=Count("order_id", distinct=True),
    ).order_by():
        row = rows.get(sale["exhibitor_id"])
        if row is None:
            continue
        _sum_into(row.revenue_today, sale["currency"], sale["today"])
        _sum_into(row.revenue_total, sale["currency"], sale["total"])
        row.orders_today += sale["orders_today"]
        row.orders_total += sale["orders_total"]
    for refund in _order_refunds(user).values("exhibitor_id", currency=F("refund__currency")).annotate(
            total=Sum("amount")).order_by():
        if refund["exhibitor_id"] in rows:
            _sum_into(rows[refund["exhibitor_id"]].refunds_total, refund["currency"], refund["total"])
    for payout in payouts:
        if payout["exhibitor_id"] in rows:
            _sum_into(rows[payout["exhibitor_id"]].payouts_pending, payout["currency"], payout["pending"])
    return sorted(rows.values(), key=lambda r: (-sum(r.revenue_today.values()), -sum(r.revenue_total.values()), r.name))


def booth_day(*, user: Any, now: datetime | None = None) -> BoothDay:
    """Everything the admin home page shows for `user`: their exhibitors' day (operators: the
    whole platform's). Preconditions: none; a user who is neither an operator nor exhibitor staff
    gets empty figures. Raises nothing of its own. Read-only.

    Queries: 10 for staff of one exhibitor, 12 with the per-exhibitor figures (operators, staff
    of several), whatever the number of products, orders, slots or transfers; plus the tenancy
    look-ups (operators group, memberships), cached on the user object.
    """
    now = now or timezone.now()
    today = local_today(now)
    today_start = local_day_start(today)
    week_start_at = local_day_start(week_start(today))
    sales_today, sales_week, sales_total = sales_periods(user, today_start=today_start, week_start_at=week_start_at)
    days, hours = sales_series(user, today=today)
    products, products_count = product_sell_through(user)
    payouts = payout_rows(user)
    return BoothDay(
        generated_at=now,
        today=today,
        operator=is_operator(user),
        exhibitors=exhibitor_rows(user, today_start=today_start, payouts=payouts),
        sales_today=sales_today,
        sales_week=sales_week,
        sales_total=sales_total,
        days=days,
        hours=hours,
        products=products,
        products_count=products_count,
        slots=upcoming_slots(user, now=now),
        passes=pass_figures(user, today_start=today_start, now=now),
        payouts=payout_figures(payouts),
    )
