"""Bookable slots of a service: GET /api/v1/products/{id}/slots/ (API.md "Catalog (public)")."""

import base64
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.exhibitors.models import ExhibitorStatus
from tests.factories import ExhibitorFactory, ProductFactory, ServiceSlotFactory

pytestmark = pytest.mark.django_db


def slots_url(product_id: object) -> str:
    return f"/api/v1/products/{product_id}/slots/"


def assert_not_found_json(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["type"] == "client_error"
    assert [e["code"] for e in response.json()["errors"]] == ["not_found"]


@pytest.fixture
def service(db):
    return ProductFactory(service=True)


def test_slot_fields_and_values(api_client, service):
    # given an upcoming slot with 1 of 4 places taken
    starts = timezone.now() + timedelta(days=1)
    slot = ServiceSlotFactory(product=service, starts_at=starts, ends_at=starts + timedelta(minutes=45), capacity=4, taken=1)

    # when a shopper lists the service's slots
    response = api_client.get(slots_url(service.id))

    # then the slot carries the contract fields
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    [item] = body["results"]
    assert datetime.fromisoformat(item.pop("starts_at")) == starts
    assert datetime.fromisoformat(item.pop("ends_at")) == starts + timedelta(minutes=45)
    assert item == {"id": slot.id, "capacity": 4, "remaining": 3}


def test_only_upcoming_slots_in_start_order(api_client, service):
    # given past, ongoing and future slots created out of order
    now = timezone.now()
    later = ServiceSlotFactory(product=service, starts_at=now + timedelta(days=2))
    ServiceSlotFactory(product=service, starts_at=now - timedelta(days=1))
    ServiceSlotFactory(product=service, starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(minutes=20))
    sooner = ServiceSlotFactory(product=service, starts_at=now + timedelta(hours=1))
    full = ServiceSlotFactory(product=service, starts_at=now + timedelta(days=3), capacity=2, taken=2)
    ServiceSlotFactory()  # another service's slot

    # when listed
    response = api_client.get(slots_url(service.id))

    # then only slots not yet started, soonest first; full ones stay visible with remaining 0
    assert [(i["id"], i["remaining"]) for i in response.json()["results"]] == [(sooner.id, 3), (later.id, 3), (full.id, 0)]


def test_slots_of_a_non_service_product_answer_404(api_client):
    for product in (ProductFactory(), ProductFactory(collectible=True), ProductFactory(pass_=True)):
        assert_not_found_json(api_client.get(slots_url(product.id)))


def test_slots_of_a_hidden_service_answer_404(api_client):
    unpublished = ProductFactory(service=True, is_published=False)
    ServiceSlotFactory(product=unpublished)
    suspended = ProductFactory(service=True, exhibitor=ExhibitorFactory(status=ExhibitorStatus.SUSPENDED))
    ServiceSlotFactory(product=suspended)

    assert_not_found_json(api_client.get(slots_url(unpublished.id)))
    assert_not_found_json(api_client.get(slots_url(suspended.id)))


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "-2", "0", "424242", "99999999999999999999999999"])
def test_unknown_or_malformed_product_id_answers_404_json(api_client, bad_id):
    assert_not_found_json(api_client.get(f"/api/v1/products/{bad_id}/slots/"))


def test_slots_paginate_with_cursors(api_client, service):
    # given five upcoming slots, two of them starting at the same moment
    base = timezone.now() + timedelta(days=1)
    offsets = [0, 1, 1, 2, 3]
    slots = [ServiceSlotFactory(product=service, starts_at=base + timedelta(hours=h)) for h in offsets]

    # when walking pages of two, then back
    first = api_client.get(slots_url(service.id), {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()
    back = api_client.get(third["previous"]).json()

    # then each slot is seen once in start order, and previous leads back
    seen = [i["id"] for i in first["results"] + second["results"] + third["results"]]
    assert seen == [s.id for s in slots]
    assert third["next"] is None
    assert [i["id"] for i in back["results"]] == [i["id"] for i in second["results"]]


@pytest.mark.parametrize("raw", ["p=not-a-date", "p=2026-13-45 10:00", "p=\x00"])
def test_forged_cursor_answers_404_json(api_client, service, raw):
    ServiceSlotFactory(product=service)

    cursor = base64.b64encode(raw.encode()).decode()
    assert_not_found_json(api_client.get(slots_url(service.id), {"cursor": cursor}))


def test_malformed_cursor_answers_404_json(api_client, service):
    assert_not_found_json(api_client.get(slots_url(service.id), {"cursor": "!!not base64!!"}))


# Two queries whatever the page size: the service product (404 if not a public service) and one
# page of slots with `remaining` computed in SQL. Measured: 2.
SLOT_LIST_QUERIES = 2


@pytest.fixture
def busy_service(service):
    base = timezone.now() + timedelta(hours=1)
    for n in range(120):
        ServiceSlotFactory(product=service, starts_at=base + timedelta(minutes=30 * n), taken=n % 4)
    return service


@pytest.mark.parametrize("page_size", [1, 100])
def test_slot_list_query_count_does_not_depend_on_page_size(api_client, busy_service, django_assert_num_queries, page_size):
    with django_assert_num_queries(SLOT_LIST_QUERIES):
        response = api_client.get(slots_url(busy_service.id), {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_slot_page_size_is_capped_at_100(api_client, busy_service):
    response = api_client.get(slots_url(busy_service.id), {"page_size": 1000})

    assert len(response.json()["results"]) == 100
    assert response.json()["next"] is not None
