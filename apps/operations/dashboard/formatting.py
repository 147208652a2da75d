"""Money and dates as people read them: major units with the currency, local days.

Amounts are stored in integer minor units (marketplace.money); nothing here ever shows a minor
unit. CNY (the expo's currency) is written "¥12.50"; currencies sharing a symbol get a prefix
("JP¥", "US$", "HK$"), and any other currency is written "12.50 XYZ".
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from marketplace.money import exponent, to_major

SYMBOLS = {"CNY": "¥", "JPY": "JP¥", "USD": "US$", "HKD": "HK$", "EUR": "€", "GBP": "£"}
MINUS = "−"


def major(amount_minor: int, currency: str) -> Decimal:
    """Minor units to a Decimal in major units with the currency's decimal places."""
    places = exponent(currency)
    return to_major(amount_minor, currency).quantize(Decimal(1).scaleb(-places))


def money(amount_minor: int | None, currency: str) -> str:
    """E.g. money(1250, "CNY") == "¥12.50", money(-500, "USD") == "−US$5.00", "1,234.00 CHF"."""
    amount_minor = amount_minor or 0
    sign = MINUS if amount_minor < 0 else ""
    value = f"{major(abs(amount_minor), currency):,.{exponent(currency)}f}"
    symbol = SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{value}" if symbol else f"{sign}{value} {currency.upper()}"


def money_list(amounts: dict[str, int], *, empty_currency: str | None = None) -> list[str]:
    """One display string per currency (sorted, zeros left out); `[money(0, empty_currency)]`
    when there is nothing and a currency to show zero in."""
    shown = [money(amount, currency) for currency, amount in sorted(amounts.items()) if amount]
    if not shown and empty_currency:
        return [money(0, empty_currency)]
    return shown


def local_day_start(day: date) -> datetime:
    """Midnight at the start of `day` in TIME_ZONE (the expo's days), as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def local_today(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), timezone.get_default_timezone()).date()


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())
