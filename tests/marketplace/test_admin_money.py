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


def test_operators_read_amounts_in_major_units_on_order_payment_and_ledger_pages(operator, shopper, exhibitor_a):
    from django.test import Client
    from django.urls import reverse

    from apps.payments.models import LedgerEntry, Payment
    from tests.factories import ProductFactory, paid_order

    # Given a paid order of 178.00 CNY with its payment and a ledger movement
    order = paid_order(shopper, (ProductFactory(exhibitor=exhibitor_a, price=8900), 2))
    payment = Payment.objects.create(order=order, attempt=1, provider="simulated", amount=order.total, currency="CNY",
                                     status="succeeded", provider_reference="sim_pi_money")
    entry = LedgerEntry.objects.create(key="capture:money", kind="capture", order=order, amount=order.total, currency="CNY")
    client = Client()
    client.force_login(operator)

    # When the operator opens their pages, Then every amount reads "CNY 178.00", never "17800"
    for url in (reverse("admin:orders_order_change", args=[order.pk]),
                reverse("admin:payments_payment_change", args=[payment.pk]),
                reverse("admin:payments_ledgerentry_change", args=[entry.pk]),
                reverse("admin:payments_payment_changelist"), reverse("admin:payments_ledgerentry_changelist")):
        html = client.get(url).content.decode()
        assert "CNY 178.00" in html, url
        assert ">17800<" not in html.replace(" ", "").replace("\n", ""), url
