"""The shopper's order endpoints through HTTP (API.md "Orders (shopper)")."""


import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog.models import Edition, EditionStatus, Product
from apps.orders.models import Order, OrderLine, OrderStatus
from apps.payments.models import Payment
from tests.factories import ProductFactory, ServiceSlotFactory, place_order

ORDERS = "/api/v1/orders/"


def _post(client, lines, **headers):
    return client.post(ORDERS, {"lines": lines}, format="json", headers=headers)


def _codes(response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


def test_anonymous_requests_answer_401(db, drop):
    client = APIClient()

    for response in (client.get(ORDERS), _post(client, [{"product": drop.pk}])):
        assert response.status_code == 401
        assert _codes(response) == ["not_authenticated"]


def test_place_an_order(client_a, drop, service_slot):
    lines = [{"product": drop.pk, "quantity": 2}, {"product": service_slot.product_id, "slot": service_slot.pk}]

    response = _post(client_a, lines)

    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "number", "status", "currency", "subtotal", "total", "expires_at", "lines", "payment"}
    assert body["status"] == "pending_payment"
    assert (body["currency"], body["subtotal"], body["total"]) == ("CNY", 2 * 8800 + 30000, 2 * 8800 + 30000)
    assert [(line["product"], line["quantity"], line["unit_price"], line["total"], line["slot"]) for line in body["lines"]] == [
        (drop.pk, 2, 8800, 17600, None), (service_slot.product_id, 1, 30000, 30000, service_slot.pk),
    ]
    assert body["payment"]["provider"] == "simulated"
    assert body["payment"]["status"] == "requires_payment"
    assert body["payment"]["client_secret"]
    assert Payment.objects.get(order_id=body["id"]).amount == body["total"]


def test_mass_assigned_fields_change_nothing(client_a, drop):
    response = client_a.post(ORDERS, {
        "lines": [{"product": drop.pk, "quantity": 1, "price": 1, "unit_price": 1, "total": 1, "serial": 1, "exhibitor": 999}],
        "status": "paid", "total": 1, "subtotal": 1, "currency": "USD", "user": 12345, "expires_at": "2099-01-01T00:00:00Z",
        "number": "EX-AAAA-AAAA",
    }, format="json")

    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["id"])
    line = OrderLine.objects.get(order=order)
    assert (order.status, order.total, order.currency, order.number) != ("paid", 1, "USD", "EX-AAAA-AAAA")
    assert (order.status, order.total, order.currency) == (OrderStatus.PENDING_PAYMENT, 8800, "CNY")
    assert (line.unit_price, line.total, line.exhibitor_id) == (8800, 8800, drop.exhibitor_id)
    assert order.expires_at.year == timezone.now().year


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("sold_out", 409, "sold_out"),
        ("not_on_sale", 409, "not_on_sale"),
        ("limit", 409, "limit_exceeded"),
        ("slot_required", 400, "slot_required"),
        ("slot_full", 409, "slot_full"),
    ],
)
def test_refusals(client_a, shopper, other_shopper, exhibitor_a, service_slot, setup, status, code):
    if setup == "sold_out":
        product = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=1)
        place_order(other_shopper, (product, 1))
        lines = [{"product": product.pk}]
    elif setup == "not_on_sale":
        product = ProductFactory(exhibitor=exhibitor_a, sale_starts_at=timezone.now() + timezone.timedelta(hours=1))
        lines = [{"product": product.pk}]
    elif setup == "limit":
        product = ProductFactory(exhibitor=exhibitor_a, per_customer_limit=1)
        place_order(shopper, (product, 1))
        lines = [{"product": product.pk}]
    elif setup == "slot_required":
        lines = [{"product": service_slot.product_id}]
    else:
        place_order(other_shopper, (service_slot.product, 2, service_slot))
        lines = [{"product": service_slot.product_id, "slot": service_slot.pk}]

    response = _post(client_a, lines)

    assert response.status_code == status
    assert _codes(response) == [code]


def test_slot_of_another_product_is_a_field_error(client_a, service_slot, exhibitor_b):
    other = ServiceSlotFactory(product=ProductFactory(exhibitor=exhibitor_b, service=True))

    response = _post(client_a, [{"product": service_slot.product_id, "slot": other.pk}])

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "lines"


@pytest.mark.parametrize("lines", [[], [{"product": "x"}], [{"product": 1, "quantity": 0}], [{"product": 1, "quantity": 11}]])
def test_malformed_input_is_a_400(client_a, lines):
    response = _post(client_a, lines)

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_list_and_read_own_orders_only(client_a, client_b, shopper, other_shopper, drop):
    mine = place_order(shopper, (drop, 1))
    theirs = place_order(other_shopper, (drop, 1))

    listed = client_a.get(ORDERS).json()
    assert set(listed) == {"next", "previous", "results"}
    assert [o["id"] for o in listed["results"]] == [str(mine.pk)]
    assert client_a.get(f"{ORDERS}{mine.pk}/").json()["number"] == mine.number
    assert client_b.get(f"{ORDERS}{theirs.pk}/").status_code == 200


@pytest.mark.parametrize("action", ["read", "cancel", "pay"])
def test_another_shoppers_order_answers_404(client_b, shopper, drop, action):
    order = place_order(shopper, (drop, 1))
    url = f"{ORDERS}{order.pk}/"

    response = {"read": lambda: client_b.get(url), "cancel": lambda: client_b.post(f"{url}cancel"),
                "pay": lambda: client_b.post(f"{url}payment")}[action]()

    assert response.status_code == 404
    assert _codes(response) == ["not_found"]
    assert Order.objects.values_list("status", flat=True).get(pk=order.pk) == OrderStatus.PENDING_PAYMENT
    assert not Payment.objects.filter(order=order).exists()


@pytest.mark.parametrize("order_id", ["7693b1e8-60c5-429d-b5af-7ebc45132a40", "not-a-uuid", "1"])
def test_unknown_or_malformed_ids_answer_404(client_a, order_id):
    response = client_a.get(f"{ORDERS}{order_id}/")

    assert response.status_code == 404
    assert _codes(response) == ["not_found"]


def test_cancel_releases_the_hold_and_repeats_quietly(client_a, shopper, drop):
    order = place_order(shopper, (drop, 2))

    first = client_a.post(f"{ORDERS}{order.pk}/cancel")
    second = client_a.post(f"{ORDERS}{order.pk}/cancel")

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "cancelled"
    assert not Edition.objects.filter(product=drop).exclude(status=EditionStatus.AVAILABLE).exists()


def test_cancel_a_paid_order_is_409(client_a, shopper, drop):
    from apps.orders.services import order_mark_paid

    order = place_order(shopper, (drop, 1))
    order_mark_paid(order_id=order.pk)

    response = client_a.post(f"{ORDERS}{order.pk}/cancel")

    assert response.status_code == 409
    assert _codes(response) == ["invalid_state"]


def test_payment_is_returned_then_recreated_when_the_attempt_failed(client_a, shopper, drop):
    created = _post(client_a, [{"product": drop.pk}]).json()
    url = f"{ORDERS}{created['id']}/payment"

    again = client_a.post(url)
    assert again.status_code == 200
    assert again.json()["client_secret"] == created["payment"]["client_secret"]

    Payment.objects.filter(order_id=created["id"]).update(status="failed")
    retried = client_a.post(url)
    assert retried.status_code == 200
    assert retried.json()["client_secret"] != created["payment"]["client_secret"]
    assert Payment.objects.filter(order_id=created["id"]).count() == 2


def test_payment_for_a_cancelled_order_is_409(client_a, shopper, drop):
    order = place_order(shopper, (drop, 1))
    client_a.post(f"{ORDERS}{order.pk}/cancel")

    response = client_a.post(f"{ORDERS}{order.pk}/payment")

    assert response.status_code == 409
    assert _codes(response) == ["invalid_state"]


# --- Query counts ---------------------------------------------------------------------------------

# products read; SAVEPOINT; quota upsert; edition claim; the order, its lines, edition links and
# event in one statement (apps/orders/services/rows.py); RELEASE; payment insert (attempt 1: a new
# order has none, no read); provider result update. Under a real request the SAVEPOINT pair is
# BEGIN/COMMIT, and the session and the session-token user come from the cache once the user has
# been read: 6 statements, 5 without a quota (bench S1, issue 15).
QUERIES_PER_ORDER = 8


@pytest.mark.parametrize("lines", [1, 5])
def test_placing_an_order_costs_the_same_queries_for_1_or_5_lines(client_a, exhibitor_a, django_assert_num_queries, lines):
    # given collectible drops with a per-customer limit: the heaviest path (quota, editions, links)
    products = [ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=20, per_customer_limit=3)
                for _ in range(lines)]
    body = [{"product": p.pk, "quantity": 2} for p in products]

    with django_assert_num_queries(QUERIES_PER_ORDER):
        response = _post(client_a, body)

    assert response.status_code == 201
    assert Edition.objects.filter(status=EditionStatus.HELD).count() == 2 * lines


@pytest.mark.parametrize("per_kind", [1, 3])
def test_mixed_orders_cost_the_same_queries_whatever_the_line_count(client_a, exhibitor_a, django_assert_num_queries, per_kind):
    # given per_kind collectibles, stocked downloads and service slots: every claim group is used
    lines = []
    for _ in range(per_kind):
        lines.append({"product": ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5).pk})
        lines.append({"product": ProductFactory(exhibitor=exhibitor_a, stock_total=5).pk, "quantity": 2})
        slot = ServiceSlotFactory(product=ProductFactory(exhibitor=exhibitor_a, service=True))
        lines.append({"product": slot.product_id, "slot": slot.pk})

    with django_assert_num_queries(QUERIES_PER_ORDER + 2):  # + slot read, slot claim, stock claim - quota
        response = _post(client_a, lines)

    assert response.status_code == 201
    assert Product.objects.filter(stock_taken=2).count() == per_kind
