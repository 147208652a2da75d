"""The admin home page's figures (apps.operations.dashboard.selectors) and the page itself:
exact amounts from real paid orders, refunds and payouts; tenancy; a fixed number of queries;
login landing on /admin/ and per-user "View site"."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.catalog.models import ServiceSlot
from apps.fulfilment.models import Entitlement
from apps.fulfilment.services import fulfilment_fulfil_order
from apps.operations.dashboard import selectors
from apps.operations.dashboard.formatting import money
from tests.factories import PASSWORD, ExhibitorFactory, ProductFactory, ServiceSlotFactory, place_order, staff_of
from tests.operations.dashboard_helpers import local, onboard, refund_lines, sell, settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simulated_payments")]


@pytest.fixture
def alpha_goods(exhibitor_a, now):
    service = ProductFactory(exhibitor=exhibitor_a, service=True, price=5000, title="Health consult")
    return {
        "download": ProductFactory(exhibitor=exhibitor_a, price=1999, title="Guide"),
        "drop": ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, price=8800, title="Drop"),
        "service": service,
        "slot": ServiceSlotFactory(product=service, starts_at=now + timedelta(hours=2), capacity=3),
        "later_slot": ServiceSlotFactory(product=service, starts_at=now + timedelta(days=1), capacity=2),
    }


@pytest.fixture
def expo(exhibitor_a, exhibitor_b, alpha_goods, shopper, operator, now):
    """Alpha: today 2 downloads + 1 drop (127.98); yesterday (Tuesday) a consultation (50.00);
    ten days ago a download (19.99), refunded in full today; thirty days ago a drop (88.00),
    its payout waiting for Alpha's payout account. An unpaid order. Bravo: 5.00 today."""
    g = alpha_goods
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    old = sell(shopper, (g["drop"], 1), paid_at=now - timedelta(days=30))
    settle(old)  # Alpha has no payout account yet: awaiting_account
    onboard(exhibitor_a)
    first = sell(shopper, (g["download"], 2), (g["drop"], 1), paid_at=local(today, 10, 15))
    second = sell(shopper, (g["service"], 1, g["slot"]), paid_at=local(yesterday, 16))
    third = sell(shopper, (g["download"], 1), paid_at=now - timedelta(days=10))
    for order in (first, second, third):
        settle(order)
    refund_lines(third, list(third.lines.all()), actor=operator, refunded_at=local(today, 11))
    settle(third)  # takes the sent payout back
    place_order(shopper, (g["download"], 1))  # unpaid: never counted
    bravo = ProductFactory(exhibitor=exhibitor_b, price=500, title="Bravo pass")
    settle(sell(shopper, (bravo, 1), paid_at=local(today, 9)))  # Bravo has no payout account
    return {"first": first, "second": second, "third": third, "old": old, "bravo": bravo}


# --- Figures ---------------------------------------------------------------------------------------


def test_staff_see_their_booth_day_in_exact_figures(staff_a, expo, now):
    # When Alpha's staff read their day
    day = selectors.booth_day(user=staff_a, now=now)

    # Then revenue is paid lines by the day paid, refunds apart by the day refunded
    assert day.sales_today.revenue == {"CNY": 2 * 1999 + 8800}
    assert (day.sales_today.orders, day.sales_today.units) == (1, 3)
    assert day.sales_today.refunds == {"CNY": 1999}
    assert day.sales_today.net == {"CNY": 12798 - 1999}
    assert day.sales_week.revenue == {"CNY": 12798 + 5000}
    assert (day.sales_week.orders, day.sales_week.units) == (2, 4)
    assert day.sales_total.revenue == {"CNY": 12798 + 5000 + 1999 + 8800}
    assert (day.sales_total.orders, day.sales_total.units) == (4, 6)
    assert day.sales_total.refunds == {"CNY": 1999}
    assert not day.operator and [e.name for e in day.exhibitors] == ["Alpha"]


def test_charts_have_every_day_and_hour_in_expo_time(staff_a, expo, now):
    day = selectors.booth_day(user=staff_a, now=now)

    assert len(day.days) == 14 and len(day.hours) == 24
    assert timezone.localtime(day.days[-1].start).date() == now.date()
    assert [p.revenue.get("CNY", 0) for p in day.days][-11:] == [1999] + [0] * 8 + [5000, 12798]
    assert day.days[-1].orders == 1 and day.days[-1].units == 3
    assert {h: p.revenue for h, p in enumerate(day.hours) if p.revenue} == {10: {"CNY": 12798}}
    assert timezone.localtime(day.hours[10].start).hour == 10


def test_sell_through_per_kind(staff_a, expo, alpha_goods, now):
    day = selectors.booth_day(user=staff_a, now=now)

    rows = {row.id: row for row in day.products}
    drop, download, service = (rows[alpha_goods[k].pk] for k in ("drop", "download", "service"))
    assert (drop.units_sold, drop.revenue, drop.editions_sold, drop.editions_held, drop.editions_left) == (2, 17600, 2, 0, 3)
    assert drop.sold_percent == 40
    # the unpaid order holds a download but did not sell it
    assert (download.units_sold, download.revenue, download.stock_left) == (3, 5997, None)
    assert download.sold_percent is None
    assert (service.units_sold, service.slots_taken, service.slots_capacity) == (1, 1, 5)
    assert day.products_count == 3
    assert [row.title for row in day.products][:2] == ["Guide", "Drop"]  # best-selling first


def test_next_slots_and_payouts(staff_a, expo, alpha_goods, now):
    day = selectors.booth_day(user=staff_a, now=now)

    assert [(s.id, s.taken, s.capacity) for s in day.slots] == [(alpha_goods["slot"].pk, 1, 3),
                                                               (alpha_goods["later_slot"].pk, 0, 2)]
    (cny,) = day.payouts
    # sent: 127.98 - 12.80, 50.00 - 5.00, 19.99 - 2.00; the last taken back by its refund;
    # waiting for the payout account: 88.00 - 8.80
    assert cny.paid_out == (12798 - 1280) + (5000 - 500) + (1999 - 200)
    assert cny.taken_back == 1999 - 200
    assert (cny.pending, cny.pending_count, cny.awaiting_account) == (8800 - 880, 1, 1)
    assert cny.net_paid_out == 11518 + 4500


def test_passes_redeemed_today(exhibitor_a, staff_a, shopper, now):
    # Given two passes sold and delivered, one redeemed today and one yesterday, one still to come
    pass_ = ProductFactory(exhibitor=exhibitor_a, pass_=True, price=3000, stock_total=10)
    order = sell(shopper, (pass_, 3), paid_at=now - timedelta(hours=1))
    fulfilment_fulfil_order(order_id=order.pk)
    first, second, _third = Entitlement.objects.filter(order=order).order_by("unit_index")
    Entitlement.objects.filter(pk=first.pk).update(redeemed_at=now - timedelta(minutes=5))
    Entitlement.objects.filter(pk=second.pk).update(redeemed_at=now - timedelta(days=1))

    day = selectors.booth_day(user=staff_a, now=now)

    assert (day.passes.redeemed_today, day.passes.redeemed_total, day.passes.waiting) == (1, 2, 1)
    (row,) = day.products
    assert (row.units_sold, row.stock_left, row.sold_percent) == (3, 7, 30)


# --- Tenancy ---------------------------------------------------------------------------------------


def test_staff_of_another_exhibitor_see_none_of_it(staff_b, expo, alpha_goods, now):
    day = selectors.booth_day(user=staff_b, now=now)

    assert day.sales_today.revenue == {"CNY": 500} and day.sales_total.orders == 1
    assert day.sales_total.refunds == {}
    assert [row.title for row in day.products] == ["Bravo pass"]
    assert day.slots == []
    assert [(p.currency, p.pending, p.paid_out, p.taken_back) for p in day.payouts] == [("CNY", 450, 0, 0)]
    assert [e.name for e in day.exhibitors] == ["Bravo"]


def test_operators_see_the_platform_with_one_row_per_exhibitor(operator, expo, now):
    day = selectors.booth_day(user=operator, now=now)

    assert day.operator
    assert day.sales_today.revenue == {"CNY": 12798 + 500} and day.sales_today.orders == 2
    rows = {row.name: row for row in day.exhibitors}
    assert rows["Alpha"].revenue_today == {"CNY": 12798} and rows["Alpha"].orders_total == 4
    assert rows["Alpha"].refunds_total == {"CNY": 1999}
    assert rows["Alpha"].payouts_pending == {"CNY": 7920}
    assert rows["Bravo"].revenue_total == {"CNY": 500} and rows["Bravo"].payouts_pending == {"CNY": 500 - 50}
    assert [row.name for row in day.exhibitors] == ["Alpha", "Bravo"]  # best-selling today first


def test_a_shopper_or_unlinked_staff_sees_nothing(shopper, expo, now):
    day = selectors.booth_day(user=shopper, now=now)

    assert day.sales_total.orders == 0 and day.products == [] and day.exhibitors == [] and day.payouts == []


# --- Queries ---------------------------------------------------------------------------------------


def _queries(user, now) -> int:
    user = type(user).objects.get(pk=user.pk)  # no tenancy cache carried over
    with CaptureQueriesContext(connection) as ctx:
        selectors.booth_day(user=user, now=now)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_products_orders_or_exhibitors(exhibitor_a, staff_a, operator, shopper, now):
    # Given one product and one order
    product = ProductFactory(exhibitor=exhibitor_a)
    sell(shopper, (product, 1), paid_at=now - timedelta(hours=1))
    few_staff, few_operator = _queries(staff_a, now), _queries(operator, now)

    # When there are many more products (all kinds), slots, orders, payouts, refunds and exhibitors
    onboard(exhibitor_a)
    for i in range(6):
        extra = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=4)
        service = ProductFactory(exhibitor=exhibitor_a, service=True)
        slot = ServiceSlotFactory(product=service, starts_at=now + timedelta(hours=i + 1))
        order = sell(shopper, (extra, 1), (service, 1, slot), (product, 2), paid_at=now - timedelta(days=i))
        settle(order)
        refund_lines(order, [order.lines.get(product=extra)], actor=operator)
        settle(order)
        sell(shopper, (ProductFactory(exhibitor=ExhibitorFactory()), 1), paid_at=now - timedelta(hours=i))

    # Then the number of queries is the same
    assert _queries(staff_a, now) == few_staff <= 12
    assert _queries(operator, now) == few_operator <= 13
    assert ServiceSlot.objects.count() == 6


def test_admin_home_page_costs_a_bounded_number_of_queries(client, staff_a, expo, django_assert_max_num_queries):
    client.force_login(staff_a)
    with django_assert_max_num_queries(16):  # 14 today: session user, permissions, tenancy, 10 figures
        response = client.get("/admin/")
    assert response.status_code == 200


# --- The page --------------------------------------------------------------------------------------


def test_home_page_shows_the_booth_day_in_major_units(client, staff_a, exhibitor_a, shopper):
    # Given a sale made today
    product = ProductFactory(exhibitor=exhibitor_a, price=1250, title="Booth guide", title_zh_hans="展位指南")
    sell(shopper, (product, 1))
    client.force_login(staff_a)

    # When the staff member opens /admin/
    html = client.get("/admin/").content.decode()

    # Then it is their booth's day, in yuan, with the product, the report form and their links
    assert "Your booth today" in html
    assert "Alpha (H1-" in html
    assert "¥12.50" in html
    assert "1250" not in html.replace("12.50", "")
    assert "Booth guide" in html and "1 sold · unlimited" in html
    assert 'id="report-form"' in html and reverse("dashboard:sales_report") in html
    assert 'href="/booth/"' in html  # "View site" and the sidebar: the booth scanner
    assert 'class="chart"' in html and "unfold/js/chart/chart.js" in html
    assert 'id="exhibitors"' not in html


def test_home_page_in_chinese_uses_the_chinese_title(staff_a, exhibitor_a, shopper):
    product = ProductFactory(exhibitor=exhibitor_a, price=1250, title="Booth guide", title_zh_hans="展位指南")
    sell(shopper, (product, 1))
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(staff_a)

    html = client.get("/admin/").content.decode()

    assert "展位指南" in html and "¥12.50" in html


def test_operator_home_page_has_the_exhibitor_table_and_links_to_ops(client, operator, expo):
    client.force_login(operator)

    html = client.get("/admin/").content.decode()

    assert "The expo today" in html
    assert 'id="exhibitors"' in html and "Alpha" in html and "Bravo" in html
    assert f'href="{reverse("operations:console")}"' in html
    assert money(12798 + 5000 + 1999 + 8800, "CNY") in html  # Alpha, all time
    assert money(12798 + 5000 + 1999 + 8800 + 500, "CNY") in html  # the expo, all time


def test_staff_without_an_exhibitor_are_told_what_to_do(client, db):
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    client.force_login(user)

    html = client.get("/admin/").content.decode()

    assert "not linked to an exhibitor yet" in html


def test_login_without_next_lands_on_the_dashboard(staff_a):
    # When staff log in from the bare login page (unfold's form posts no hidden `next`)
    response = Client().post("/admin/login/", {"username": staff_a.email, "password": PASSWORD})

    # Then they land on /admin/, not on /accounts/profile/
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_staff_of_two_exhibitors_see_both_with_a_row_each(exhibitor_a, exhibitor_b, shopper, now):
    from apps.exhibitors import services as exhibitor_services

    user = staff_of(exhibitor_a)
    exhibitor_services.exhibitor_member_add(exhibitor=exhibitor_b, user=user)
    sell(shopper, (ProductFactory(exhibitor=exhibitor_a, price=100), 1), paid_at=now)
    sell(shopper, (ProductFactory(exhibitor=exhibitor_b, price=200), 1), paid_at=now)

    day = selectors.booth_day(user=type(user).objects.get(pk=user.pk), now=now)

    assert day.sales_today.revenue == {"CNY": 300}
    assert {row.name: row.revenue_today for row in day.exhibitors} == {"Alpha": {"CNY": 100}, "Bravo": {"CNY": 200}}


def test_money_is_shown_in_major_units_with_the_currency():
    assert money(1250, "CNY") == "¥12.50"
    assert money(123456789, "CNY") == "¥1,234,567.89"
    assert money(500, "JPY") == "JP¥500"
    assert money(-305, "USD") == "−US$3.05"
    assert money(5, "CHF") == "0.05 CHF"
