from decimal import Decimal

import pytest

from marketplace.money import MoneyError, format_money, to_major, to_minor


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [("19.99", "CNY", 1999), ("0", "CNY", 0), ("500", "JPY", 500), (Decimal("1.5"), "USD", 150), (3, "EUR", 300)],
)
def test_to_minor_is_exact(major, currency, minor):
    assert to_minor(major, currency) == minor
    assert to_major(minor, currency) == Decimal(str(major))


@pytest.mark.parametrize(
    ("major", "currency"), [("19.999", "CNY"), ("1.5", "JPY"), ("-1", "CNY"), ("abc", "CNY"), ("NaN", "CNY")]
)
def test_to_minor_refuses_what_cannot_be_exact(major, currency):
    with pytest.raises(MoneyError):
        to_minor(major, currency)


def test_format_money():
    assert format_money(123456, "CNY") == "CNY 1,234.56"
    assert format_money(500, "JPY") == "JPY 500"
