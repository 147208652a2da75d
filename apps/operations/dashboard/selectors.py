"""Reads for the admin home page: one booth's day (or the whole platform's) at a glance.

Definitions, as the page labels them:

- A *sale* is a line of an order that was paid (paid, fulfilled, partially refunded or refunded
  now), dated by the order's "paid" event (the moment the payment succeeded), in TIME_ZONE.
  *Revenue* is the lines' total before refunds and commission ("gross").
- *Refunds* are succeeded order refunds, the part allocated to each exhibitor, dated by the day
  they succeeded. They are shown apart; *net* = revenue - refunds of the same period.
- *Payouts* come from the Connect transfers: `pending` is what open transfers will send (their
  lines less refunds less commission, as `payouts_settle_order` sizes them), `paid out` what sent
  transfers carried, `taken back` what sent reversals took back after refunds.

Every read goes through `marketplace.tenancy.scope_to_user`: exhibitor staff see their own
exhibitors' rows only, operators everything. The number of queries is fixed (see
`booth_day`), whatever the number of products, orders or transfers; lists are capped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, Greatest, TruncHour
from django.utils import timezone

from apps.catalog.models import Edition, EditionStatus, Product, ProductKind, ServiceSlot
from apps.exhibitors.models import Exhibitor
from apps.fulfilment.models import Entitlement, EntitlementStatus
from apps.operations.dashboard.formatting import local_day_start, local_today, week_start
from apps.orders.models import OrderLine, OrderStatus
from apps.payments.models import (
    RefundAllocation,
    RefundKind,
    RefundLine,
    RefundStatus,
    Transfer,
    TransferReversal,
    TransferStatus,
)
from apps.payments.services.common import commission_of
from marketplace.tenancy import exhibitor_ids_for, is_operator, scope_to_user

# Orders whose payment succeeded, whatever happened to them afterwards.
SOLD_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
OPEN_TRANSFER = (TransferStatus.PENDING, TransferStatus.AWAITING_ACCOUNT, TransferStatus.SENDING)
DAYS_CHARTED = 14
PRODUCT_ROWS = 25
SLOT_ROWS = 8


# --- Results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodFigures:
    """Sales of one period. Amounts are minor units per currency."""

    revenue: dict[str, int]
    refunds: dict[str, int]
    orders: int
    units: int

    @property
    def net(self) -> dict[str, int]:
        currencies = set(self.revenue) | set(self.refunds)
        return {c: self.revenue.get(c, 0) - self.refunds.get(c, 0) for c in currencies}


@dataclass(frozen=True)
class SeriesPoint:
    """One bar of a chart: a local day or hour."""

    start: datetime
    revenue: dict[str, int]
    orders: int
    units: int


@dataclass(frozen=True)
class ProductRow:
    id: int
    title: str
    title_zh: str
    kind: str
    exhibitor_id: int
    currency: str
    price: int
    is_published: bool
    units_sold: int
    revenue: int
    edition_size: int | None
    editions_sold: int
    editions_held: int
    slots_capacity: int
    slots_taken: int
    stock_total: int | None
    stock_taken: int

    @property
    def editions_left(self) -> int:
        return max((self.edition_size or 0) - self.editions_sold - self.editions_held, 0)

    @property
    def stock_left(self) -> int | None:
        return None if self.stock_total is None else max(self.stock_total - self.stock_taken, 0)

    @property
    def sold_percent(self) -> int | None:
        """How much of a limited inventory is gone (sold or held), 0-100; None when unlimited."""
        if self.kind == ProductKind.COLLECTIBLE and self.edition_size:
            return _percent(self.editions_sold + self.editions_held, self.edition_size)
        if self.kind == ProductKind.SERVICE and self.slots_capacity:
            return _percent(self.slots_taken, self.slots_capacity)
        if self.stock_total:
            return _percent(self.stock_taken, self.stock_total)
        return None


@dataclass(frozen=True)
class SlotRow:
    id: int
    product_id: int
    product_title: str
    product_title_zh: str
    exhibitor_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    taken: int

    @property
    def is_full(self) -> bool:
        return self.taken >= self.capacity


@dataclass(frozen=True)
class PassFigures:
    redeemed_today: int
    redeemed_total: int
    waiting: int  # active, not redeemed, still valid


@dataclass(frozen=True)
class PayoutFigures:
    """Minor units of one currency."""

    currency: str
    pending: int
    pending_count: int
    awaiting_account: int  # transfers waiting for the exhibitor's payout account
    paid_out: int
    taken_back: int
    failed: int  # transfers an operator must look at

    @property
    def net_paid_out(self) -> int:
        return self.paid_out - self.taken_back


@dataclass
class ExhibitorRow:
    id: int
    name: str
    name_zh: str
    hall: str
    booth: str
    revenue_today: dict[str, int] = field(default_factory=dict)
    revenue_total: dict[str, int] = field(default_factory=dict)
    orders_today: int = 0
    orders_total: int = 0
    refunds_total: dict[str, int] = field(default_factory=dict)
    payouts_pending: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BoothDay:
    generated_at: datetime
    today: date
    operator: bool
    exhibitors: list[ExhibitorRow]  # in scope (all of them for operators), with per-exhibitor figures
    sales_today: PeriodFigures
    sales_week: PeriodFigures
    sales_total: PeriodFigures
    days: list[SeriesPoint]  # the last DAYS_CHARTED local days, oldest first
    hours: list[SeriesPoint]  # today's 24 local hours
    products: list[ProductRow]
    products_count: int
    slots: list[SlotRow]
    passes: PassFigures
    payouts: list[PayoutFigures]

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.sales_total.revenue) | set(self.sales_total.refunds))

    @property
    def has_sales(self) -> bool:
        return self.sales_total.orders > 0


def _percent(part: int, whole: int) -> int:
    return min(round(100 * part / whole), 100) if whole else 0


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


def _transfer_due() -> Any:
    """What an open transfer will send: its exhibitor's lines of the order, less succeeded order
    refunds allocated to it, less commission rounded half up (`commission_of`), as
    `payouts_settle_order` sizes it. A transfer already being sent carries its amount."""
    lines = (OrderLine.objects.filter(order_id=OuterRef("order_id"), exhibitor_id=OuterRef("exhibitor_id"))
             .values("order_id").annotate(s=Sum("total")).values("s")[:1])
    refunded = (RefundAllocation.objects.filter(
        refund__order_id=OuterRef("order_id"), exhibitor_id=OuterRef("exhibitor_id"), refund__kind=RefundKind.ORDER,
        refund__status=RefundStatus.SUCCEEDED).values("exhibitor_id").annotate(s=Sum("amount")).values("s")[:1])
    # SUM() of bigint is numeric in Postgres: cast back so that the division below is integral.
    due = Cast(Greatest(Coalesce(Subquery(lines), 0) - Coalesce(Subquery(refunded), 0), Value(0)), BigIntegerField())
    # Integer division in Postgres: (due * bps + 5000) / 10000 is commission_of's half-up rounding.
    commission = (due * F("exhibitor__commission_bps") + Value(5000)) / Value(10000)
    return Case(When(status=TransferStatus.SENDING, then=F("amount")), default=due - commission,
                output_field=IntegerField())


def payout_rows(user: Any) -> list[dict[str, Any]]:
    """Per (exhibitor, currency): pending, paid out and taken back amounts, counts. Two queries."""
    transfers = scope_to_user(Transfer.objects.all(), user, path="exhibitor_id")
    open_ = Q(status__in=OPEN_TRANSFER)
    rows = list(
        transfers.values("exhibitor_id", "currency").annotate(
            pending=Sum(_transfer_due(), filter=open_),
            pending_count=Count("pk", filter=open_),
            awaiting_account=Count("pk", filter=Q(status=TransferStatus.AWAITING_ACCOUNT)),
            paid_out=Sum("amount", filter=Q(status=TransferStatus.SENT)),
            failed=Count("pk", filter=Q(status=TransferStatus.FAILED)),
        ).order_by("exhibitor_id", "currency")
    )
    taken_back = {
        (row["exhibitor_id"], row["currency"]): row["total"]
        for row in scope_to_user(TransferReversal.objects.filter(status=TransferStatus.SENT), user,
                                 path="transfer__exhibitor_id")
        .values(exhibitor_id=F("transfer__exhibitor_id"), currency=F("transfer__currency"))
        .annotate(total=Sum("amount")).order_by()
    }
    for row in rows:
        row["taken_back"] = taken_back.pop((row["exhibitor_id"], row["currency"]), 0)
        for key in ("pending", "paid_out"):
            row[key] = row[key] or 0
    # A reversal always belongs to a transfer, so nothing should be left; be safe all the same.
    rows.extend({"exhibitor_id": eid, "currency": cur, "pending": 0, "pending_count": 0, "awaiting_account": 0,
                 "paid_out": 0, "failed": 0, "taken_back": amount} for (eid, cur), amount in taken_back.items())
    return rows


def payout_figures(rows: list[dict[str, Any]]) -> list[PayoutFigures]:
    by_currency: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        totals = by_currency[row["currency"]]
        for key in ("pending", "pending_count", "awaiting_account", "paid_out", "taken_back", "failed"):
            totals[key] += row[key] or 0
    return [PayoutFigures(currency=currency, **totals) for currency, totals in sorted(by_currency.items())]


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


# --- The sales report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    """One sold order line. Amounts in minor units of `currency`; `refunded` and `commission` are
    as of now (a refund after the period still shows on the sale it took back)."""

    paid_at: datetime
    order_number: str
    exhibitor_id: int
    exhibitor_name: str
    product_id: int
    product_title: str
    kind: str
    quantity: int
    unit_price: int
    gross: int
    refunded: int
    commission: int
    currency: str

    @property
    def net(self) -> int:
        """What the exhibitor keeps: gross - refunded - commission."""
        return self.gross - self.refunded - self.commission


def _spread(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` over `weights` in proportion (largest remainder, earlier first on ties),
    never more than a weight."""
    total = sum(weights)
    if amount <= 0 or total <= 0:
        return [0] * len(weights)
    amount = min(amount, total)
    shares = [amount * w // total for w in weights]
    left = amount - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i)):
        if left <= 0:
            break
        if shares[i] < weights[i]:
            shares[i] += 1
            left -= 1
    return shares


def sales_report_lines(*, user: Any, date_from: date, date_to: date, exhibitor_id: int | None = None) -> list[ReportLine]:
    """Every sold line paid on a local day from `date_from` to `date_to` (both included), oldest
    first, for the exhibitors `user` may see (only `exhibitor_id`'s if given: a foreign id gives
    nothing). Refunds: whole-line refunds count on their line; an amount refund is spread over
    the exhibitor's lines of the order in proportion to what is left of them. Commission is the
    exhibitor's rate on what is left after refunds, per order, rounded half up, spread the same
    way (what the payouts converge on). Three queries, whatever the number of lines.
    """
    start, end = local_day_start(date_from), local_day_start(date_to + timedelta(days=1))
    lines = (
        sold_lines(user, exhibitor_id=exhibitor_id).filter(paid_at__gte=start, paid_at__lt=end)
        .annotate(whole_refund=Coalesce(Subquery(
            RefundLine.objects.filter(line=OuterRef("pk"), refund__status=RefundStatus.SUCCEEDED)
            .values("line").annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), 0))
        .values("id", "order_id", "paid_at", "exhibitor_id", "product_id", "quantity", "unit_price", "total",
                "currency", "whole_refund", order_number=F("order__number"), exhibitor_name=F("exhibitor__name"),
                commission_bps=F("exhibitor__commission_bps"), product_title=F("title"), kind=F("product__kind"))
        .order_by("paid_at", "order__number", "id")
    )
    rows = list(lines)
    if not rows:
        return []
    order_ids = {row["order_id"] for row in rows}
    allocated = {
        (a["order_id"], a["exhibitor_id"]): a["total"]
        for a in RefundAllocation.objects.filter(refund__order_id__in=order_ids, refund__kind=RefundKind.ORDER,
                                                 refund__status=RefundStatus.SUCCEEDED)
        .values("exhibitor_id", order_id=F("refund__order_id")).annotate(total=Sum("amount")).order_by()
    }
    groups: dict[tuple[Any, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["order_id"], row["exhibitor_id"])].append(row)
    for key, group in groups.items():
        for row in group:
            row["refunded"] = row["total"] if row["whole_refund"] else 0
        by_amount = max(allocated.get(key, 0) - sum(row["refunded"] for row in group), 0)
        for row, share in zip(group, _spread(by_amount, [r["total"] - r["refunded"] for r in group]), strict=True):
            row["refunded"] += share
        kept = [row["total"] - row["refunded"] for row in group]
        commission = commission_of(sum(kept), group[0]["commission_bps"])
        for row, share in zip(group, _spread(commission, kept), strict=True):
            row["commission"] = share
    return [
        ReportLine(paid_at=row["paid_at"], order_number=row["order_number"], exhibitor_id=row["exhibitor_id"],
                   exhibitor_name=row["exhibitor_name"], product_id=row["product_id"],
                   product_title=row["product_title"], kind=row["kind"], quantity=row["quantity"],
                   unit_price=row["unit_price"], gross=row["total"], refunded=row["refunded"],
                   commission=row["commission"], currency=row["currency"])
        for row in rows
    ]


def report_exhibitor_choices(user: Any) -> QuerySet[Exhibitor]:
    """The exhibitors `user` may report on (all of them for operators)."""
    return scope_to_user(Exhibitor.objects.all(), user, path="id").order_by("name", "id")


def sole_exhibitor(user: Any) -> int | None:
    """The one exhibitor a staff member acts for, if exactly one (None for operators)."""
    if is_operator(user):
        return None
    ids = exhibitor_ids_for(user)
    return next(iter(ids)) if len(ids) == 1 else None
