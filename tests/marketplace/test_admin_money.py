"""Prices typed in major units, stored in minor units (marketplace.admin money form pieces)."""

from decimal import Decimal

import pytest
from django import forms

from apps.catalog.models import Product
from marketplace.admin import MajorUnitsMoneyField, MajorUnitsMoneyFormMixin

pytestmark = pytest.mark.django_db


class PriceForm(MajorUnitsMoneyFormMixin, forms.ModelForm):
    price = MajorUnitsMoneyField()

    class Meta:
        model = Product
        fields = ("price", "currency")


@pytest.mark.parametrize(("typed", "currency", "stored"), [
    ("19.99", "CNY", 1999), ("19.9", "CNY", 1990), ("0", "CNY", 0), ("20", "USD", 2000), ("500", "JPY", 500),
    ("1000.00", "HKD", 100000),
])
def test_major_units_become_minor_units(typed, currency, stored):
    form = PriceForm(data={"price": typed, "currency": currency})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["price"] == stored
    assert form.instance.price == stored


@pytest.mark.parametrize(("typed", "currency", "message"), [
    ("-0.01", "CNY", "greater than or equal to 0"),
    ("19.999", "CNY", "at most 2 decimal places"),
    ("5.5", "JPY", "whole numbers"),
    ("abc", "CNY", "number"),
    ("", "CNY", "required"),
])
def test_invalid_amounts_are_form_errors(typed, currency, message):
    form = PriceForm(data={"price": typed, "currency": currency})
    assert not form.is_valid()
    assert message in " ".join(form.errors["price"])


def test_existing_price_is_shown_in_major_units():
    form = PriceForm(instance=Product(price=1999, currency="CNY"))
    assert form.initial["price"] == Decimal("19.99")
    assert PriceForm(instance=Product(price=500, currency="JPY")).initial["price"] == Decimal(500)


def test_currency_of_the_instance_is_used_when_the_form_has_none():
    class PriceOnlyForm(MajorUnitsMoneyFormMixin, forms.ModelForm):
        price = MajorUnitsMoneyField()

        class Meta:
            model = Product
            fields = ("price",)

    form = PriceOnlyForm(data={"price": "700"}, instance=Product(currency="JPY"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["price"] == 700
    assert not PriceOnlyForm(data={"price": "7.5"}, instance=Product(currency="JPY")).is_valid()
