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

Split by sub-domain: results (the returned figures and rows), sales, inventory (products, slots,
passes), payouts, booth (the booth day) and report (the sales report). Import from here.
"""

from apps.operations.dashboard.selectors.booth import (
    booth_day,
    exhibitor_rows,
)
from apps.operations.dashboard.selectors.inventory import (
    pass_figures,
    product_sell_through,
    upcoming_slots,
)
from apps.operations.dashboard.selectors.payouts import (
    payout_figures,
    payout_rows,
)
from apps.operations.dashboard.selectors.report import (
    ReportLine,
    report_exhibitor_choices,
    sales_report_lines,
    sole_exhibitor,
)
from apps.operations.dashboard.selectors.results import (
    DAYS_CHARTED,
    OPEN_TRANSFER,
    PRODUCT_ROWS,
    SLOT_ROWS,
    SOLD_STATUSES,
    BoothDay,
    ExhibitorRow,
    PassFigures,
    PayoutFigures,
    PeriodFigures,
    ProductRow,
    SeriesPoint,
    SlotRow,
)
from apps.operations.dashboard.selectors.sales import (
    sales_periods,
    sales_series,
    sold_lines,
)

__all__ = [
    "DAYS_CHARTED",
    "OPEN_TRANSFER",
    "PRODUCT_ROWS",
    "SLOT_ROWS",
    "SOLD_STATUSES",
    "BoothDay",
    "ExhibitorRow",
    "PassFigures",
    "PayoutFigures",
    "PeriodFigures",
    "ProductRow",
    "ReportLine",
    "SeriesPoint",
    "SlotRow",
    "booth_day",
    "exhibitor_rows",
    "pass_figures",
    "payout_figures",
    "payout_rows",
    "product_sell_through",
    "report_exhibitor_choices",
    "sales_periods",
    "sales_report_lines",
    "sales_series",
    "sold_lines",
    "sole_exhibitor",
    "upcoming_slots",
]
