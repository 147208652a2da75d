"""Orders in the admin: operators see everything and can cancel; exhibitor staff see only the
lines of their own products, and nothing else of a mixed order."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.exhibitors.services import roles_ensure
from apps.orders.models import Order, OrderLine, OrderStatus
from tests.factories import ProductFactory, place_order


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mixed_order(shopper, exhibitor_a, exhibitor_b):
    roles_ensure()  # the group permissions, as after migrate
    alpha = ProductFactory(exhibitor=exhibitor_a, title="Alpha Poster")
    bravo = ProductFactory(exhibitor=exhibitor_b, title="Bravo Secret Print")
    return place_order(shopper, (alpha, 1), (bravo, 1))


def test_staff_see_only_their_lines_of_a_mixed_order(staff_a, mixed_order):
    client = _client(staff_a)

    page = client.get(reverse("admin:orders_orderline_changelist"))

    assert page.status_code == 200
    assert "Alpha Poster" in page.content.decode()
    assert "Bravo Secret Print" not in page.content.decode()


def test_staff_get_404_for_another_exhibitors_line(staff_a, mixed_order, exhibitor_b):
    line = OrderLine.objects.get(order=mixed_order, exhibitor=exhibitor_b)

    response = _client(staff_a).get(reverse("admin:orders_orderline_change", args=[line.pk]))

    assert response.status_code == 404


def test_staff_see_their_orders_with_only_their_lines(staff_a, mixed_order):
    client = _client(staff_a)

    listing = client.get(reverse("admin:orders_order_changelist"))
    page = client.get(reverse("admin:orders_order_change", args=[mixed_order.pk]))

    assert listing.status_code == 200 and mixed_order.number in listing.content.decode()
    assert page.status_code == 200
    assert "Alpha Poster" in page.content.decode()
    assert "Bravo Secret Print" not in page.content.decode()


def test_staff_get_404_for_an_order_without_their_products(staff_a, shopper, exhibitor_b):
    roles_ensure()
    other = place_order(shopper, (ProductFactory(exhibitor=exhibitor_b, title="Bravo Only"), 1))
    client = _client(staff_a)

    assert other.number not in client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert client.get(reverse("admin:orders_order_change", args=[other.pk])).status_code == 404


def test_staff_own_line_page_does_not_show_the_rest_of_the_order(staff_a, mixed_order, exhibitor_a):
    line = OrderLine.objects.get(order=mixed_order, exhibitor=exhibitor_a)

    page = _client(staff_a).get(reverse("admin:orders_orderline_change", args=[line.pk]))

    assert page.status_code == 200
    assert mixed_order.number in page.content.decode()
    assert "Bravo Secret Print" not in page.content.decode()


def test_operator_sees_the_order_with_lines_and_events(operator, mixed_order):
    page = _client(operator).get(reverse("admin:orders_order_change", args=[mixed_order.pk]))

    body = page.content.decode()
    assert page.status_code == 200
    assert "Alpha Poster" in body
    assert "Bravo Secret Print" in body
    assert "placed" in body


def test_operator_cancels_a_pending_order_through_the_action(operator, mixed_order):
    response = _client(operator).post(
        reverse("admin:orders_order_changelist"), {"action": "cancel_orders", "_selected_action": [str(mixed_order.pk)]},
    )

    assert response.status_code == 302
    order = Order.objects.get(pk=mixed_order.pk)
    assert order.status == OrderStatus.CANCELLED
    assert order.events.last().actor == operator
