"""`manage.py voucher_settlement [--campaign SLUG ...] [--funder platform|exhibitor|public] [--until DATE]`:
per campaign and funder, vouchers issued, claimed, redeemed and expired, and the subsidy owed to
each exhibitor (apps/payments/settlement.py). Exits non-zero if an order of a campaign does not
balance in the ledger."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.payments.management.commands.ledger_report import _when
from apps.payments.settlement import settlement_lines, voucher_settlement
from marketplace.money import format_money


class Command(BaseCommand):
    help = "Voucher settlement per campaign and funder: issued, claimed, redeemed, expired, subsidy owed per exhibitor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", action="append", dest="campaigns", help="Campaign slug (repeatable).")
        parser.add_argument("--funder", choices=["platform", "exhibitor", "public"], help="Only campaigns of this funder kind.")
        parser.add_argument("--until", help="Ledger rows before this date or ISO datetime (a statement's cut-off).")

    def handle(self, *args: Any, **options: Any) -> None:
        reports = voucher_settlement(slugs=options.get("campaigns"), funder_kind=options.get("funder"),
                                     until=_when(options.get("until")))
        if not reports:
            self.stdout.write("No voucher campaign matches.")
            return
        funder = None
        for report in reports:
            if (report.funder_kind, report.funder) != funder:
                funder = (report.funder_kind, report.funder)
                self.stdout.write(self.style.MIGRATE_HEADING(f"Funder: {report.funder} ({report.funder_kind})"))
            for line in settlement_lines(report, money=format_money):
                self.stdout.write(line)
        mismatched = sum(r.orders_mismatched for r in reports)
        if mismatched:
            raise CommandError(f"{mismatched} order(s) with vouchers do not balance in the ledger.")
