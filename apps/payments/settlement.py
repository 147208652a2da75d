"""The voucher settlement report, per campaign and funder (`manage.py voucher_settlement`, and the
admin's "Voucher settlement" page): vouchers issued, claimed, redeemed, expired, and the subsidy
the funder owes each exhibitor, read from the ledger's `subsidy` rows (paid when an order with
the voucher was paid, given back on refunds), with the ledger balance of the campaign's orders.

Exhibitors were paid on the undiscounted price, so the platform has advanced each subsidy: a
public body or the platform owes it; an exhibitor-funded campaign's subsidy is owed by the
exhibitor itself and settled against its statement.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, Sum

from apps.payments.models import LedgerEntry
from apps.payments.selectors import ledger_report
from apps.vouchers.models import Campaign, FunderKind, Redemption, RedemptionStatus, Voucher, VoucherStatus


@dataclass
class ExhibitorSubsidy:
    exhibitor_id: int
    exhibitor: str
    orders: int
    paid: int  # subsidy written when orders were paid
    returned: int  # given back by refunds

    @property
    def owed(self) -> int:
        return self.paid - self.returned


@dataclass
class CampaignSettlement:
    campaign_id: int
    slug: str
    title: str
    funder_kind: str
    funder: str
    currency: str
    face_value: int
    issued: int  # vouchers the budget issues
    claimed: int
    redeemed: int  # vouchers used by a paid order (refunded ones included)
    applied: int  # on an order awaiting payment
    available: int
    expired: int
    returned_to_pool: int
    refunded_orders: int
    exhibitors: list[ExhibitorSubsidy] = field(default_factory=list)
    orders_balanced: int = 0
    orders_open: int = 0
    orders_mismatched: int = 0

    @property
    def subsidy_owed(self) -> int:
        return sum(e.owed for e in self.exhibitors)


def _funder(campaign: Campaign) -> str:
    if campaign.funder_kind == FunderKind.EXHIBITOR and campaign.funder_exhibitor is not None:
        return str(campaign.funder_exhibitor.name)
    return campaign.funder_name or str(FunderKind(campaign.funder_kind).label)


def voucher_settlement(*, campaign_ids: list[int] | None = None, slugs: list[str] | None = None,
                       funder_kind: str | None = None, until: datetime | None = None) -> list[CampaignSettlement]:
    """One settlement per campaign (ordered by funder, then slug). `until` limits the ledger rows
    to those written before it (a statement's cut-off); counts of vouchers are as of now."""
    campaigns = Campaign.objects.select_related("funder_exhibitor").order_by("funder_kind", "funder_name", "slug")
    if campaign_ids is not None:
        campaigns = campaigns.filter(pk__in=campaign_ids)
    if slugs:
        campaigns = campaigns.filter(slug__in=slugs)
    if funder_kind:
        campaigns = campaigns.filter(funder_kind=funder_kind)
    reports = []
    for campaign in campaigns:
        statuses = dict(Voucher.objects.filter(campaign=campaign).values("status").annotate(n=Count("id"))
                        .values_list("status", "n"))
        redemptions = Redemption.objects.filter(campaign=campaign)
        entries = LedgerEntry.objects.filter(kind="subsidy", order__voucher_redemption__campaign=campaign)
        if until is not None:
            entries = entries.filter(created_at__lt=until)
        rows = (entries.values("exhibitor_id", "exhibitor__name")
                .annotate(paid=Sum("amount", filter=Q(amount__gt=0)), returned=Sum("amount", filter=Q(amount__lt=0)),
                          orders=Count("order_id", distinct=True))
                .order_by("exhibitor__name"))
        report = CampaignSettlement(
            campaign_id=campaign.pk, slug=campaign.slug, title=campaign.title, funder_kind=campaign.funder_kind,
            funder=_funder(campaign), currency=campaign.currency, face_value=campaign.face_value,
            issued=campaign.quantity, claimed=campaign.claimed_count,
            redeemed=statuses.get(VoucherStatus.USED, 0) + redemptions.filter(status=RedemptionStatus.REFUNDED)
            .exclude(voucher__status=VoucherStatus.USED).count(),
            applied=statuses.get(VoucherStatus.APPLIED, 0), available=statuses.get(VoucherStatus.AVAILABLE, 0),
            expired=statuses.get(VoucherStatus.EXPIRED, 0), returned_to_pool=campaign.returned_count,
            refunded_orders=redemptions.filter(status=RedemptionStatus.REFUNDED).count(),
            exhibitors=[ExhibitorSubsidy(exhibitor_id=r["exhibitor_id"], exhibitor=str(r["exhibitor__name"]), orders=r["orders"],
                                         paid=r["paid"] or 0, returned=-(r["returned"] or 0)) for r in rows],
        )
        order_ids = list(redemptions.filter(status__in=[RedemptionStatus.USED, RedemptionStatus.REFUNDED])
                         .values_list("order_id", flat=True))
        if order_ids:
            balances = ledger_report(order_ids=order_ids).orders
            report.orders_balanced = sum(1 for b in balances if b.status == "balanced")
            report.orders_open = sum(1 for b in balances if b.status == "open")
            report.orders_mismatched = sum(1 for b in balances if b.status == "mismatch")
        reports.append(report)
    return reports


def settlement_lines(report: CampaignSettlement, *, money: Any) -> list[str]:
    """The report as text lines (the command and the admin page say the same)."""
    lines = [
        f"{report.slug} — {report.title}",
        f"  funder: {report.funder} ({report.funder_kind}); face value {money(report.face_value, report.currency)}",
        f"  vouchers: issued {report.issued}, claimed {report.claimed}, redeemed {report.redeemed}, "
        f"applied (unpaid) {report.applied}, available {report.available}, expired {report.expired} "
        f"(returned to the pool {report.returned_to_pool}); orders refunded in full {report.refunded_orders}",
    ]
    for row in report.exhibitors:
        lines.append(f"  owed to {row.exhibitor}: {money(row.owed, report.currency)} "
                     f"({row.orders} orders; paid {money(row.paid, report.currency)}, "
                     f"returned by refunds {money(row.returned, report.currency)})")
    lines.append(f"  subsidy owed in total: {money(report.subsidy_owed, report.currency)}")
    lines.append(f"  ledger of its orders: {report.orders_balanced} balanced, {report.orders_open} open (payouts waiting), "
                 f"{report.orders_mismatched} mismatch")
    return lines
