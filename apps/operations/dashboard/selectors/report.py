"""The sales report: one row per sold order line over local days, with refunds and commission."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from apps.exhibitors.models import Exhibitor
from apps.operations.dashboard.formatting import local_day_start
from apps.operations.dashboard.selectors.sales import sold_lines
from apps.payments.models import RefundAllocation, RefundKind, RefundLine, RefundStatus
from apps.payments.services.common import commission_of
from marketplace.tenancy import exhibitor_ids_for, is_operator, scope_to_user

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
