"""What the admin home page's reads return: the figures, rows and the whole booth day, and the
constants that size them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from apps.catalog.models import ProductKind
from apps.orders.models import OrderStatus
from apps.payments.models import TransferStatus

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
