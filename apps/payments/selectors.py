"""Reads for payments: the ledger report, and the shopper's orders with their payment attempts.

Per order, every fen is accounted for: capture + subsidy = (transfer − transfer_reversal) +
commission + refund (`subsidy`: a voucher's funder paying part of the order). An order whose
payouts are still waiting (an exhibitor not onboarded, a transfer in flight) is reported `open`
with what is outstanding; anything else that does not add up is a `mismatch`.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet, Sum

from apps.orders import selectors as order_selectors
from apps.orders.models import Order
from apps.payments.models import LedgerEntry, Payment, Transfer, TransferReversal, TransferStatus

WAITING = (TransferStatus.PENDING, TransferStatus.AWAITING_ACCOUNT, TransferStatus.SENDING)


@dataclass
class OrderBalance:
    order_id: Any
    currency: str
    capture: int = 0
    refund: int = 0
    transfer: int = 0
    transfer_reversal: int = 0
    commission: int = 0
    subsidy: int = 0
    status: str = "balanced"

    @property
    def difference(self) -> int:
        return self.capture + self.subsidy - (self.transfer - self.transfer_reversal) - self.commission - self.refund


@dataclass
class LedgerReport:
    since: datetime | None
    until: datetime | None
    orders: list[OrderBalance] = field(default_factory=list)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def unbalanced(self) -> list[OrderBalance]:
        return [o for o in self.orders if o.status != "balanced"]

    @property
    def mismatched(self) -> list[OrderBalance]:
        return [o for o in self.orders if o.status == "mismatch"]


def ledger_order_balance(*, order_id: Any) -> OrderBalance:
    """One order's ledger sums and whether they balance (all its entries, whatever their date)."""
    report = ledger_report(order_ids=[order_id])
    return report.orders[0] if report.orders else OrderBalance(order_id=order_id, currency="")


def ledger_report(*, since: datetime | None = None, until: datetime | None = None,
                  order_ids: list[Any] | None = None) -> LedgerReport:
    """Balances of every order with a ledger movement in [since, until). Each such order is summed
    over all its entries (a refund next month still belongs to this month's sale). Totals per
    currency and kind cover only the period's entries."""
    period = LedgerEntry.objects.all()
    if since is not None:
        period = period.filter(created_at__gte=since)
    if until is not None:
        period = period.filter(created_at__lt=until)
    if order_ids is not None:
        period = period.filter(order_id__in=order_ids)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in period.values("currency", "kind").annotate(total=Sum("amount")):
        totals[row["currency"]][row["kind"]] = row["total"]
    ids = set(period.values_list("order_id", flat=True).distinct())
    balances: dict[Any, OrderBalance] = {}
    for row in (LedgerEntry.objects.filter(order_id__in=ids).values("order_id", "currency", "kind")
                .annotate(total=Sum("amount")).order_by("order_id")):
        balance = balances.setdefault(row["order_id"], OrderBalance(order_id=row["order_id"], currency=row["currency"]))
        setattr(balance, row["kind"], getattr(balance, row["kind"]) + row["total"])
    waiting = set(Transfer.objects.filter(order_id__in=ids, status__in=WAITING).values_list("order_id", flat=True))
    # A reversal in flight: the refund is written, the money not yet taken back (difference < 0).
    reversing = set(TransferReversal.objects.filter(transfer__order_id__in=ids, status=TransferStatus.PENDING)
                    .values_list("transfer__order_id", flat=True))
    for balance in balances.values():
        if balance.difference != 0:
            is_open = (balance.order_id in waiting and balance.difference > 0) or (
                balance.order_id in reversing and balance.difference < 0)
            balance.status = "open" if is_open else "mismatch"
    return LedgerReport(since=since, until=until, orders=sorted(balances.values(), key=lambda b: str(b.order_id)),
                        totals={cur: dict(kinds) for cur, kinds in totals.items()})


# --- Orders with their payment (the shopper's order output) -------------------------------------


def order_list_with_payments_for_shopper(*, user: Any) -> QuerySet[Order]:
    """The shopper's own orders, lines and payments prefetched (3 queries a page)."""
    return order_selectors.order_list_for_shopper(user=user).select_related("voucher_redemption__campaign").prefetch_related(
        Prefetch("payments", queryset=Payment.objects.order_by("-attempt"), to_attr="payments_newest_first"))


def order_get_with_payments_for_shopper(*, user: Any, order_id: str) -> Order:
    """One of the shopper's orders, lines and payments prefetched. Raises NotFound for a foreign,
    unknown or malformed id alike."""
    return order_selectors.order_get_for_shopper(user=user, order_id=order_id,
                                                 queryset=order_list_with_payments_for_shopper(user=user))


def order_latest_payment(order: Order) -> Payment | None:
    """The newest payment attempt of an order read through the selectors above (no query)."""
    payments = getattr(order, "payments_newest_first", None)
    if payments is None:
        payments = list(order.payments.order_by("-attempt")[:1])
    return payments[0] if payments else None
