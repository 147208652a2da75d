"""Refunds from the admin ask first: the action leads to a page that shows exactly what will be
refunded (lines, amount in major units with currency, to whom); only its confirmed POST refunds.
Operators refund whole orders, exhibitor staff their own lines; foreign ids answer 404."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.exhibitors.services import roles_ensure
from apps.orders.models import Order, OrderLine, OrderStatus
from apps.payments.models import Refund, RefundStatus
from apps.payments.services import payment_create_for_order, payment_sync
from apps.payments.services.webhooks import webhook_record_simulated
from tests.factories import ProductFactory, place_order


@pytest.fixture(autouse=True)
def _offline(settings, monkeypatch):
    settings.PAYMENT_PROVIDER = "simulated"
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _paid(order: Order) -> Order:
    payment = payment_create_for_order(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    payment_sync(payment_id=payment.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order


@pytest.fixture
def mixed_paid(shopper, exhibitor_a, exhibitor_b):
    """Alpha's 19.99 poster and two of Bravo's 30.05 prints, paid (80.09 in all)."""
    roles_ensure()
    alpha = ProductFactory(exhibitor=exhibitor_a, title="Alpha Poster", price=1999)
    bravo = ProductFactory(exhibitor=exhibitor_b, title="Bravo Secret Print", price=3005)
    return _paid(place_order(shopper, (alpha, 1), (bravo, 2)))


def _ask(client, order) -> str:
    """Choose the refund action on the orders list; return the confirmation page's URL."""
    response = client.post(reverse("admin:orders_order_changelist"),
                           {"action": "refund_orders", "_selected_action": [str(order.pk)]})
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:orders_order_refund"))
    return response.url


def test_operator_sees_what_a_full_refund_sends_before_anything_is_sent(operator, mixed_paid, shopper):
    client = _client(operator)
    url = _ask(client, mixed_paid)

    page = client.get(url)

    body = page.content.decode()
    assert page.status_code == 200
    assert "CNY 80.09" in body and shopper.email in body
    assert "Alpha Poster" in body and "Bravo Secret Print" in body
    assert not Refund.objects.exists()

    done = client.post(url.split("?")[0], {"ids": str(mixed_paid.pk), "confirm": "yes", "reason": "duplicate order"})

    assert done.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.reason, refund.actor) == (8009, RefundStatus.SUCCEEDED,
                                                                          "duplicate order", operator)
    assert Order.objects.get(pk=mixed_paid.pk).status == OrderStatus.REFUNDED


def test_a_post_without_confirmation_refunds_nothing(operator, mixed_paid):
    client = _client(operator)
    url = _ask(client, mixed_paid)

    response = client.post(url.split("?")[0], {"ids": str(mixed_paid.pk)})

    assert response.status_code == 200  # the confirmation page again
    assert not Refund.objects.exists()
    assert Order.objects.get(pk=mixed_paid.pk).status == OrderStatus.PAID


def test_staff_refund_only_their_own_lines_after_confirming(staff_a, mixed_paid, exhibitor_a):
    client = _client(staff_a)
    url = _ask(client, mixed_paid)

    body = client.get(url).content.decode()

    assert "CNY 19.99" in body and "Alpha Poster" in body
    assert "Bravo Secret Print" not in body and "80.09" not in body and "60.10" not in body
    assert not Refund.objects.exists()
    client.post(url.split("?")[0], {"ids": str(mixed_paid.pk), "confirm": "yes"})
    refund = Refund.objects.get()
    assert refund.amount == 1999
    assert [line.exhibitor_id for line in OrderLine.objects.filter(refund_line__refund=refund)] == [exhibitor_a.pk]
    assert Order.objects.get(pk=mixed_paid.pk).status == OrderStatus.PARTIALLY_REFUNDED


def test_staff_get_404_for_a_refund_of_an_order_without_their_products(staff_a, shopper, exhibitor_b):
    roles_ensure()
    other = _paid(place_order(shopper, (ProductFactory(exhibitor=exhibitor_b, price=500), 1)))
    client = _client(staff_a)
    url = f"{reverse('admin:orders_order_refund')}?ids={other.pk}"

    assert client.get(url).status_code == 404
    assert client.post(reverse("admin:orders_order_refund"), {"ids": str(other.pk), "confirm": "yes"}).status_code == 404
    assert not Refund.objects.exists()


def test_refunding_lines_from_the_lines_list_asks_first(staff_a, mixed_paid, exhibitor_a):
    client = _client(staff_a)
    line = OrderLine.objects.get(order=mixed_paid, exhibitor=exhibitor_a)
    asked = client.post(reverse("admin:orders_orderline_changelist"),
                        {"action": "refund_lines", "_selected_action": [str(line.pk)]})
    assert asked.status_code == 302

    page = client.get(asked.url)
    assert "CNY 19.99" in page.content.decode() and mixed_paid.number in page.content.decode()
    assert not Refund.objects.exists()

    client.post(reverse("admin:orders_orderline_refund"), {"ids": str(line.pk), "confirm": "yes"})
    assert Refund.objects.get().amount == 1999


def test_an_unpaid_order_is_listed_as_skipped_and_nothing_can_be_confirmed(operator, shopper, exhibitor_a):
    pending = place_order(shopper, (ProductFactory(exhibitor=exhibitor_a), 1))
    client = _client(operator)

    body = client.get(f"{reverse('admin:orders_order_refund')}?ids={pending.pk}").content.decode()

    assert "Skipped" in body and 'value="yes"' not in body
    client.post(reverse("admin:orders_order_refund"), {"ids": str(pending.pk), "confirm": "yes"})
    assert not Refund.objects.exists()
