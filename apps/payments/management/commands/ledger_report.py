"""`manage.py ledger_report --since 2026-01-01 --until 2026-02-01`: does every order balance?

Per order: capture + subsidy (a voucher's funder) = transfer − transfer_reversal + commission + refund."""

from datetime import datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.payments.selectors import ledger_report
from marketplace.money import format_money


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"Not a date or datetime: {value!r}")
        parsed = datetime.combine(day, time.min)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = ("Ledger per order for a period: captured + voucher subsidy = transfers + commission + refunds; "
            "lists orders that differ.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Start (inclusive), date or ISO datetime.")
        parser.add_argument("--until", help="End (exclusive), date or ISO datetime.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_report(since=_when(options.get("since")), until=_when(options.get("until")))
        for currency, kinds in sorted(report.totals.items()):
            line = ", ".join(f"{kind} {format_money(total, currency)}" for kind, total in sorted(kinds.items()))
            self.stdout.write(f"{currency}: {line}")
        self.stdout.write(f"orders: {len(report.orders)}, balanced: {len(report.orders) - len(report.unbalanced)}, "
                          f"open (payouts waiting): {len(report.unbalanced) - len(report.mismatched)}, "
                          f"mismatch: {len(report.mismatched)}")
        for balance in report.unbalanced:
            self.stdout.write(f"{balance.status.upper()} order {balance.order_id}: capture {balance.capture}, "
                              f"subsidy {balance.subsidy}, "
                              f"transfer {balance.transfer}, reversal {balance.transfer_reversal}, commission "
                              f"{balance.commission}, refund {balance.refund}, difference {balance.difference} "
                              f"{balance.currency}")
        if report.mismatched:
            raise CommandError(f"{len(report.mismatched)} order(s) do not balance.")
