"""GET /api/v1/ops/queues (API.md "Operators"): fields, scoping per exhibitor, refusals."""

import pytest
from rest_framework.test import APIClient

from apps.orders import services as order_services
from tests.factories import place_order

URL = "/api/v1/ops/queues"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_operator_gets_every_documented_field(operator, place, product_a, product_b):
    # Given a pending order of A and a paid order of B that needs attention
    place(product_a)
    stuck = place(product_b)
    order_services.order_mark_paid(order_id=stuck.pk)
    order_services.order_flag_attention(order_id=stuck.pk, error="boom")

    # When the operator asks
    response = _client(operator).get(URL)

    # Then every field of the contract is there
    assert response.status_code == 200
    body = response.json()
    assert {"generated_at", "scope", "orders", "fulfilment_failures", "unprocessed_payment_events", "queues",
            "throughput", "celery"} <= set(body)
    assert body["scope"] == "all"
    assert body["orders"]["pending_payment"]["count"] == 1
    assert body["orders"]["pending_payment"]["oldest_age_seconds"] >= 0
    assert body["orders"]["needs_attention"]["count"] == 1
    assert body["fulfilment_failures"]["count"] == 1
    assert body["unprocessed_payment_events"] == {"count": 0, "oldest_age_seconds": None}
    assert len(body["throughput"]) == 60
    assert body["throughput"][-1]["placed"] == 2
    queue = next(q for q in body["queues"] if q["name"] == "pending_payment")
    assert set(queue) == {"name", "label", "count", "oldest_age_seconds", "threshold_seconds", "breached"}
    # No worker runs in the unit suite; the broker (Redis) answers.
    assert body["celery"]["workers_online"] == 0
    assert set(body["celery"]["queues"]) == {"default", "fulfilment", "notifications", "webhooks"}
    assert all(isinstance(depth, int) for depth in body["celery"]["queues"].values())
    assert body["celery"]["tasks_failed_last_hour"] == 0


def test_exhibitor_staff_get_only_their_exhibitors_numbers(staff_a, staff_b, shopper, place, product_a, product_b):
    # Given two orders of A, one of B, one mixed
    place(product_a)
    place(product_a)
    place(product_b)
    place_order(shopper, (product_a, 1), (product_b, 1))

    body_a = _client(staff_a).get(URL).json()
    body_b = _client(staff_b).get(URL).json()

    assert body_a["scope"] == body_b["scope"] == "exhibitor"
    assert body_a["orders"]["pending_payment"]["count"] == 3
    assert body_b["orders"]["pending_payment"]["count"] == 2
    assert sum(p["placed"] for p in body_b["throughput"]) == 2
    # Platform data is the operators' only.
    assert body_a["celery"] is None
    assert body_a["unprocessed_payment_events"] is None


def test_a_shopper_is_refused(shopper):
    response = _client(shopper).get(URL)

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"


@pytest.mark.django_db
def test_anonymous_is_asked_to_authenticate():
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_the_endpoint_is_in_the_schema(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    assert "/api/v1/ops/queues" in paths
    assert "200" in paths["/api/v1/ops/queues"]["get"]["responses"]
