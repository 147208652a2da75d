"""Idempotency-Key on POST /api/v1/orders/ (API.md "Conventions")."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.orders.models import Order
from marketplace.api.idempotency import IN_FLIGHT_TIMEOUT, idempotency_prune
from marketplace.models import IdempotencyRecord, IdempotencyState
from marketplace.tasks import idempotency_prune as idempotency_prune_task
from tests.factories import ProductFactory, ShopperFactory, authenticated_client

ORDERS = "/api/v1/orders/"


@pytest.fixture
def client(shopper) -> APIClient:
    return authenticated_client(shopper)


@pytest.fixture
def product(exhibitor_a):
    return ProductFactory(exhibitor=exhibitor_a, stock_total=10)


def _post(client, body, key="key-1"):
    return client.post(ORDERS, body, format="json", headers={"Idempotency-Key": key} if key else {})


def test_same_key_and_body_replays_the_first_response(client, product):
    body = {"lines": [{"product": product.pk, "quantity": 1}]}

    first = _post(client, body)
    # the same body with its keys in another order is the same request
    second = _post(client, {"lines": [{"quantity": 1, "product": product.pk}]})

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_same_key_with_another_body_is_422(client, product):
    _post(client, {"lines": [{"product": product.pk, "quantity": 1}]})

    response = _post(client, {"lines": [{"product": product.pk, "quantity": 2}]})

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_key_still_in_flight_is_409(client, shopper, product):
    body = {"lines": [{"product": product.pk, "quantity": 1}]}
    # given the first request with this key started and has not finished
    _post(client, body, key="probe")  # learn the fingerprint the view computes for this body
    fingerprint = IdempotencyRecord.objects.get(key="probe").fingerprint
    IdempotencyRecord.objects.create(user=shopper, key="busy", fingerprint=fingerprint,
                                     expires_at=timezone.now() + timedelta(hours=24))

    response = _post(client, body, key="busy")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "idempotency_key_in_use"
    assert Order.objects.count() == 1


def test_an_abandoned_in_flight_key_is_taken_over(client, shopper, product):
    body = {"lines": [{"product": product.pk, "quantity": 1}]}
    _post(client, body, key="probe")
    record = IdempotencyRecord.objects.get(key="probe")
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyState.IN_FLIGHT, created_at=timezone.now() - IN_FLIGHT_TIMEOUT - timedelta(seconds=1),
    )

    response = _post(client, body, key="probe")

    assert response.status_code == 201
    assert Order.objects.count() == 2


def test_keys_are_per_user(client, product):
    other = APIClient()
    other.force_authenticate(ShopperFactory())
    body = {"lines": [{"product": product.pk, "quantity": 1}]}

    first, second = _post(client, body), _post(other, body)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_refusals_are_replayed_too(client, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, stock_total=1)
    body = {"lines": [{"product": product.pk, "quantity": 2}]}

    first = _post(client, body)
    second = _post(client, body)

    assert first.status_code == second.status_code == 409
    assert first.json() == second.json()


def test_without_a_key_every_request_places_an_order(client, product):
    body = {"lines": [{"product": product.pk, "quantity": 1}]}

    _post(client, body, key=None)
    _post(client, body, key=None)

    assert Order.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_an_overlong_key_is_400(client, product):
    response = _post(client, {"lines": [{"product": product.pk}]}, key="k" * 256)

    assert response.status_code == 400


def test_an_expired_key_starts_over_and_prune_removes_only_expired(client, shopper, product):
    body = {"lines": [{"product": product.pk, "quantity": 1}]}
    _post(client, body, key="old")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))

    again = _post(client, body, key="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Order.objects.count() == 2

    _post(client, body, key="fresh")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert idempotency_prune_task() == 0


def test_a_server_error_stores_nothing(client, product, monkeypatch):
    from apps.payments.services import orders as services

    def boom(**kwargs):
        raise RuntimeError("provider exploded")

    monkeypatch.setattr(services, "order_checkout", boom)
    client.raise_request_exception = False

    response = _post(client, {"lines": [{"product": product.pk}]})

    assert response.status_code == 500
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_place_one_order():
    import threading

    from django.db import connection

    product = ProductFactory(stock_total=50)
    shopper = ShopperFactory()
    body = {"lines": [{"product": product.pk, "quantity": 1}]}
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def fire() -> None:
        client = APIClient()
        client.force_authenticate(shopper)
        try:
            barrier.wait()
            statuses.append(_post(client, body, key="double-click").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(statuses) == 8
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert Order.objects.count() == 1
