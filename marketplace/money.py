"""Money as integer minor units plus an ISO-4217 code (Stripe's own representation).

19.99 CNY is stored as 1999; 500 JPY as 500. Conversions are exact (Decimal), and a major-unit
amount with more decimals than the currency allows is refused rather than rounded.
"""

from decimal import Decimal, InvalidOperation

# Currencies whose minor unit is not 1/100 (ISO 4217; the subset Stripe treats as zero-decimal).
_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF",
                           "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})
SUPPORTED_CURRENCIES = ("CNY", "HKD", "USD", "EUR", "JPY")


class MoneyError(ValueError):
    """A major-unit amount that cannot be represented exactly in the currency."""


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    return 0 if currency.upper() in _ZERO_DECIMAL else 2


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """Major units (19.99) to minor units (1999). Raises MoneyError if not exact or negative."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise MoneyError(f"{amount!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise MoneyError("Amount must be a non-negative number.")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{currency} allows at most {exponent(currency)} decimal places.")
    return int(scaled)


def to_major(amount_minor: int, currency: str) -> Decimal:
    """Minor units (1999) to major units (Decimal('19.99'))."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """Human display, e.g. 'CNY 19.99'."""
    return f"{currency} {to_major(amount_minor, currency):,.{exponent(currency)}f}"
