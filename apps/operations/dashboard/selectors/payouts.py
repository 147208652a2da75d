"""Payouts of the booth day, from the Connect transfers: pending, paid out, taken back."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import BigIntegerField, Case, Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Cast, Coalesce, Greatest

from apps.operations.dashboard.selectors.results import OPEN_TRANSFER, PayoutFigures
from apps.orders.models import OrderLine
from apps.payments.models import RefundAllocation, RefundKind, RefundStatus, Transfer, TransferReversal, TransferStatus
from marketplace.tenancy import scope_to_user


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
