"""Placement's fast paths (issue 15) answer exactly what the slower ORM / DRF paths they replace answer.

- apps/catalog/selectors_placement.py: the order's products and slots from SQL built once per
  process, against the ORM query placement used to run;
- apps/orders/api/serializers.py `order_create_input`: a plain body read without the nested
  serializer, against OrderCreateInputSerializer (values and errors);
- apps/payments/services/payments.py `_store_provider_result`: the provider's answer written only
  while the attempt is still `created`.
"""

from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from apps.catalog.models import HolderPriority, Product, ServiceSlot
from apps.catalog.selectors_placement import product_map_for_placement, slot_map_for_placement
from apps.exhibitors.models import ExhibitorStatus
from apps.orders.api.serializers import OrderCreateInputSerializer, order_create_input
from apps.orders.services import LineRequest
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services.payments import _store_provider_result, payment_create_for_order
from tests.factories import ExhibitorFactory, ProductFactory, ServiceSlotFactory, place_order

pytestmark = pytest.mark.django_db


def _values(obj: Model) -> dict[str, object]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _orm_products(ids: set[int]) -> dict[int, Product]:
    # The query placement ran before issue 15 (apps/orders/services/placement.py `_load_products`).
    return {p.pk: p for p in Product.objects.filter(id__in=ids, is_published=True, exhibitor__status=ExhibitorStatus.APPROVED)
            .select_related("priority")}


def test_products_match_the_orm_query_with_and_without_holder_priority(exhibitor_a, django_assert_num_queries):
    plain = ProductFactory(exhibitor=exhibitor_a, price=1200, per_customer_limit=3)
    held = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5)
    early = ProductFactory(exhibitor=exhibitor_a, sale_starts_at=timezone.now() + timedelta(days=1))
    priority = HolderPriority.objects.create(product=early, starts_at=timezone.now())
    priority.holders_of.set([held])
    hidden = ProductFactory(exhibitor=exhibitor_a, is_published=False)
    pending = ProductFactory(exhibitor=ExhibitorFactory(status=ExhibitorStatus.PENDING))
    ids = {plain.pk, held.pk, early.pk, hidden.pk, pending.pk, 10**9}

    with django_assert_num_queries(1):
        found = product_map_for_placement(ids=ids)
        priorities = {pk: getattr(product, "priority", None) for pk, product in found.items()}  # joined: no query
    expected = _orm_products(ids)

    assert found.keys() == expected.keys() == {plain.pk, held.pk, early.pk}
    for pk, product in found.items():
        assert _values(product) == _values(expected[pk])
        assert not product._state.adding and product._state.db == "default"
        assert Product.priority.is_cached(product)  # type: ignore[attr-defined]
    assert priorities[plain.pk] is None and priorities[held.pk] is None
    assert _values(priorities[early.pk]) == _values(priority)
    assert priorities[early.pk].product is found[early.pk]


def test_product_ids_outside_bigint_are_unknown_not_an_error(exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a)
    assert product_map_for_placement(ids={product.pk, 2**63, -(2**63) - 1}).keys() == {product.pk}
    assert product_map_for_placement(ids=set()) == {}


def test_slots_match_the_orm_query(exhibitor_b, django_assert_num_queries):
    product = ProductFactory(exhibitor=exhibitor_b, service=True)
    first, second = ServiceSlotFactory(product=product, capacity=2), ServiceSlotFactory(product=product, capacity=4)
    with django_assert_num_queries(1):
        found = slot_map_for_placement(ids={first.pk, second.pk, 10**9})
    expected = {s.pk: s for s in ServiceSlot.objects.filter(id__in={first.pk, second.pk})}
    assert found.keys() == expected.keys() == {first.pk, second.pk}
    for pk, slot in found.items():
        assert _values(slot) == _values(expected[pk])


VALID_BODIES = [
    {"lines": [{"product": 7}]},
    {"lines": [{"product": 7, "quantity": 10, "slot": 3}], "voucher": 9},
    {"lines": [{"product": 7, "quantity": 1, "slot": None}, {"product": 8, "quantity": 2}], "voucher": None},
    {"lines": [{"product": 7, "quantity": 1, "price": 1, "status": "paid"}], "total": 0},  # the rest is ignored
    {"lines": [{"product": "7", "quantity": 2.0}]},  # the serializer's coercions (taken by the serializer)
    {"lines": [{"product": 7, "component_slots": {"8": 4, "9": 5}}]},
]


@pytest.mark.parametrize("body", VALID_BODIES)
def test_order_input_reads_what_the_serializer_reads(body):
    serializer = OrderCreateInputSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert order_create_input(body) == (serializer.to_line_requests(), serializer.validated_data["voucher"])


def test_a_plain_body_is_read_into_line_requests():
    assert order_create_input({"lines": [{"product": 7, "quantity": 2, "slot": 3}], "voucher": 4}) == (
        [LineRequest(product_id=7, quantity=2, slot_id=3)], 4)


INVALID_BODIES = [
    {}, [], "lines", {"lines": None}, {"lines": []}, {"lines": {"product": 7}},
    {"lines": [{"product": 7}] * 21}, {"lines": [7]}, {"lines": [{}]}, {"lines": [{"product": 0}]},
    {"lines": [{"product": True}]}, {"lines": [{"product": 7, "quantity": 0}]}, {"lines": [{"product": 7, "quantity": 11}]},
    {"lines": [{"product": 7, "quantity": None}]}, {"lines": [{"product": 7, "slot": 0}]}, {"lines": [{"product": 7, "slot": "x"}]},
    {"lines": [{"product": 7}], "voucher": 0}, {"lines": [{"product": 7}], "voucher": False},
    {"lines": [{"product": 7, "component_slots": {"x": 1}}]},
]


@pytest.mark.parametrize("body", INVALID_BODIES)
def test_order_input_refuses_with_the_serializers_errors(body):
    serializer = OrderCreateInputSerializer(data=body)
    assert not serializer.is_valid()
    with pytest.raises(ValidationError) as refused:
        order_create_input(body)
    assert refused.value.detail == serializer.errors


def test_the_provider_result_is_stored_only_while_the_attempt_is_created(shopper, exhibitor_a):
    order = place_order(shopper, (ProductFactory(exhibitor=exhibitor_a, price=500), 1))
    payment = payment_create_for_order(order=order, attempt=1)
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.status, stored.provider_reference, stored.client_secret) == (
        payment.status, payment.provider_reference, payment.client_secret)
    assert stored.status != PaymentStatus.CREATED and stored.client_secret

    payment.client_secret = "another"
    assert _store_provider_result(payment) is False  # no longer `created`: nothing written
    assert Payment.objects.get(pk=payment.pk).client_secret == stored.client_secret

    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CREATED)
    assert _store_provider_result(payment) is True
    assert Payment.objects.get(pk=payment.pk).client_secret == "another"
