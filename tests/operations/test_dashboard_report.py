"""The sales report: one row per sold line with refunds and commission, exported as CSV and XLSX,
tenancy-scoped, and refusing bad input with a message instead of a file."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from openpyxl import load_workbook

from apps.operations.dashboard import selectors
from tests.factories import ProductFactory
from tests.operations.dashboard_helpers import local, onboard, refund_lines, sell, settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simulated_payments")]
REPORT = "/admin/reports/sales/"


@pytest.fixture
def sales(exhibitor_a, exhibitor_b, shopper, operator, now):
    """Alpha (10 % commission): today an order of 2 guides (19.99) and a drop (88.00) with one of
    Bravo's cards (5.00) in it; yesterday a guide, refunded; ten days ago a drop (outside the
    week). Bravo: the card."""
    onboard(exhibitor_a)
    guide = ProductFactory(exhibitor=exhibitor_a, price=1999, title="Guide", title_zh_hans="指南")
    drop = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, price=8800, title="Drop")
    card = ProductFactory(exhibitor=exhibitor_b, price=500, title="Bravo card")
    today = now.date()
    mixed = sell(shopper, (guide, 2), (drop, 1), (card, 1), paid_at=local(today, 10, 5))
    refunded = sell(shopper, (guide, 1), paid_at=local(today - timedelta(days=1), 18, 30))
    settle(refunded)
    refund_lines(refunded, list(refunded.lines.all()), actor=operator, refunded_at=local(today, 9))
    old = sell(shopper, (drop, 1), paid_at=now - timedelta(days=10))
    return {"mixed": mixed, "refunded": refunded, "old": old, "week": (today - timedelta(days=2), today)}


def _csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_report_lines_carry_refunds_and_commission(staff_a, sales):
    start, end = sales["week"]

    lines = selectors.sales_report_lines(user=staff_a, date_from=start, date_to=end)

    # oldest first; Bravo's card is not in Alpha's report
    assert [(line.order_number, line.product_title, line.quantity) for line in lines] == [
        (sales["refunded"].number, "Guide", 1),
        (sales["mixed"].number, "Guide", 2),
        (sales["mixed"].number, "Drop", 1),
    ]
    refunded, guides, drop = lines
    assert (refunded.gross, refunded.refunded, refunded.commission, refunded.net) == (1999, 1999, 0, 0)
    # commission of the order: 10 % of 127.98 = 12.80, spread 4.00 / 8.80 over its lines
    assert (guides.gross, guides.refunded, guides.commission, guides.net) == (3998, 0, 400, 3598)
    assert (drop.gross, drop.refunded, drop.commission, drop.net) == (8800, 0, 880, 7920)
    assert {line.currency for line in lines} == {"CNY"}


def test_an_amount_refund_is_spread_over_the_exhibitors_lines(staff_a, operator, exhibitor_a, shopper, now):
    from apps.payments.services.refunds import refund_create

    guide = ProductFactory(exhibitor=exhibitor_a, price=1000)
    drop = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=3, price=3000)
    order = sell(shopper, (guide, 1), (drop, 1), paid_at=now)
    refund_create(order_id=order.pk, actor=operator, amount=1001)

    first, second = selectors.sales_report_lines(user=staff_a, date_from=now.date(), date_to=now.date())

    assert (first.refunded, second.refunded) == (250, 751)  # in proportion, every fen placed
    assert first.commission + second.commission == 300  # 10 % of 29.99 = 2.999, rounded half up
    assert first.net + second.net == 4000 - 1001 - 300


def test_csv_export(staff_a, sales):
    start, end = sales["week"]

    response = _client(staff_a).get(REPORT, {"date_from": start.isoformat(), "date_to": end.isoformat(),
                                             "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="sales-alpha-{start}-to-{end}.csv"'
    rows = _csv(response)
    assert list(rows[0]) == ["Date", "Time", "Order", "Exhibitor", "Product", "Kind", "Quantity", "Unit price",
                             "Gross", "Refunded", "Commission", "Net to exhibitor", "Currency"]
    assert [row["Product"] for row in rows] == ["Guide", "Guide", "Drop"]
    guides = rows[1]
    assert guides == {"Date": end.isoformat(), "Time": "10:05", "Order": sales["mixed"].number, "Exhibitor": "Alpha",
                      "Product": "Guide", "Kind": "Download", "Quantity": "2", "Unit price": "19.99", "Gross": "39.98",
                      "Refunded": "0.00", "Commission": "4.00", "Net to exhibitor": "35.98", "Currency": "CNY"}
    assert rows[0]["Refunded"] == "19.99" and rows[0]["Net to exhibitor"] == "0.00"
    assert "Bravo" not in response.content.decode("utf-8-sig")


def test_xlsx_export(staff_a, sales):
    start, end = sales["week"]

    response = _client(staff_a).get(REPORT, {"date_from": start.isoformat(), "date_to": end.isoformat(),
                                             "format": "xlsx"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Date", "Time", "Order", "Exhibitor") and len(rows) == 4
    drop = rows[3]
    assert drop[2] == sales["mixed"].number and drop[4] == "Drop" and drop[5] == "Collectible"
    assert [Decimal(str(v)) for v in drop[7:12]] == [Decimal("88"), Decimal("88"), 0, Decimal("8.8"), Decimal("79.2")]
    assert drop[12] == "CNY"
    assert sheet.cell(row=4, column=9).number_format == "#,##0.00"


def test_operator_picks_an_exhibitor_or_all(operator, exhibitor_b, sales):
    start, end = sales["week"]
    params = {"date_from": start.isoformat(), "date_to": end.isoformat(), "format": "csv"}

    everyone = _csv(_client(operator).get(REPORT, params))
    bravo = _client(operator).get(REPORT, {**params, "exhibitor": exhibitor_b.pk})

    assert sorted(row["Exhibitor"] for row in everyone) == ["Alpha", "Alpha", "Alpha", "Bravo"]
    assert [(row["Product"], row["Commission"], row["Net to exhibitor"]) for row in _csv(bravo)] == [
        ("Bravo card", "0.50", "4.50")]
    assert bravo["Content-Disposition"].endswith(f'sales-bravo-{start}-to-{end}.csv"')


def test_staff_cannot_report_on_another_exhibitor(staff_a, exhibitor_b, sales):
    start, end = sales["week"]

    response = _client(staff_a).get(REPORT, {"date_from": start.isoformat(), "date_to": end.isoformat(),
                                             "exhibitor": exhibitor_b.pk, "format": "csv"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Choose one of the exhibitors in the list." in html and "nothing was exported" in html
    assert "Bravo card" not in html
    # and the selector, asked directly, gives nothing foreign either
    assert selectors.sales_report_lines(user=staff_a, date_from=start, date_to=end, exhibitor_id=exhibitor_b.pk) == []


@pytest.mark.parametrize(("params", "message"), [
    ({"date_from": "yesterday", "date_to": "2026-11-25"}, "Enter a date like 2026-11-25."),
    ({"date_from": "2026-11-26", "date_to": "2026-11-25"}, "The end date must be on or after the start date."),
    ({"date_from": "2024-01-01", "date_to": "2026-11-25"}, "Choose at most 366 days."),
    ({"date_to": "2026-11-25"}, "This field is required."),
])
def test_bad_input_is_refused_with_a_message(staff_a, params, message):
    response = _client(staff_a).get(REPORT, {**params, "format": "xlsx"})

    assert response.status_code == 400
    assert "Content-Disposition" not in response
    assert message in response.content.decode()


def test_report_page_shows_totals_and_download_links(staff_a, sales):
    start, end = sales["week"]

    response = _client(staff_a).get(REPORT, {"date_from": start.isoformat(), "date_to": end.isoformat()})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="report-totals"' in html
    assert "¥147.97" in html  # gross: 19.99 + 39.98 + 88.00
    assert "¥19.99" in html and "¥12.80" in html and "¥115.18" in html  # refunded, commission, net
    assert "format=csv" in html and "format=xlsx" in html
    assert 'name="exhibitor"' not in html  # staff of one exhibitor have nothing to choose


def test_empty_form_and_anonymous(staff_a):
    assert _client(staff_a).get(REPORT).status_code == 200
    response = Client().get(REPORT)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_report_costs_the_same_queries_for_many_lines(staff_a, exhibitor_a, shopper, now, django_assert_num_queries):
    guide = ProductFactory(exhibitor=exhibitor_a, price=1000)
    sell(shopper, (guide, 1), paid_at=now)
    user = type(staff_a).objects.get(pk=staff_a.pk)
    selectors.sales_report_lines(user=user, date_from=now.date(), date_to=now.date())  # tenancy cached
    with django_assert_num_queries(2):
        selectors.sales_report_lines(user=user, date_from=now.date(), date_to=now.date())
    for _ in range(5):
        sell(shopper, (guide, 2), (ProductFactory(exhibitor=exhibitor_a, price=300), 1), paid_at=now)
    with django_assert_num_queries(2):
        assert len(selectors.sales_report_lines(user=user, date_from=now.date(), date_to=now.date())) == 11
