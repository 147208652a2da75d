"""Money and rates in the admin as people read them: "CNY 19.99", "10 %"; never minor units or
basis points."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.exhibitors.models import Exhibitor
from marketplace.admin import PercentAsBasisPointsField, format_bps_percent, money_display

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("bps", "shown"), [(1000, "10 %"), (1250, "12.5 %"), (1234, "12.34 %"), (0, "0 %"), (None, "-")])
def test_basis_points_read_as_a_percentage(bps, shown):
    assert format_bps_percent(bps) == shown


@pytest.mark.parametrize(("typed", "stored"), [("10", 1000), ("12.5", 1250), ("0.01", 1), ("100", 10000)])
def test_a_percentage_typed_is_stored_in_basis_points(typed, stored):
    assert PercentAsBasisPointsField().clean(typed) == stored


@pytest.mark.parametrize("typed", ["101", "-1", "12.345", "ten"])
def test_impossible_percentages_are_refused(typed):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        PercentAsBasisPointsField().clean(typed)


def test_money_display_writes_major_units_with_the_currency():
    class Row:
        total, currency = 1999, "CNY"

    class Yen:
        total, currency = 500, "JPY"

    column = money_display("total", description="Total")
    assert column(None, Row()) == "CNY 19.99"
    assert column(None, Yen()) == "JPY 500"
    assert column.admin_order_field == "total"  # type: ignore[attr-defined]


def test_operators_edit_the_commission_as_a_percentage(operator, exhibitor_a):
    client = _client(operator)
    url = reverse("admin:exhibitors_exhibitor_change", args=[exhibitor_a.pk])
    form = client.get(url).context["adminform"].form
    assert form["commission_bps"].value() in (1000, "10")
    assert 'value="10"' in client.get(url).content.decode()
    listing = client.get(reverse("admin:exhibitors_exhibitor_changelist")).content.decode()
    assert "10 %" in listing and ">1000<" not in listing
    data = {name: form[name].value() or "" for name in form.fields if name != "commission_bps"}
    data.update({"commission_bps": "12.5", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Exhibitor.objects.get(pk=exhibitor_a.pk).commission_bps == 1250
    assert Decimal("12.5") == Decimal(1250) / 100


def test_staff_read_their_commission_as_a_percentage(staff_a, exhibitor_a):
    html = _client(staff_a).get(reverse("admin:exhibitors_exhibitor_change", args=[exhibitor_a.pk])).content.decode()
    assert "10 %" in html and ">1000<" not in html
