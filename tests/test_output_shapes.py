"""One source of truth per output shape: the functions that write products, orders and payments
(`product_output`, `order_output`, `payment_output`) are checked against the OpenAPI schema that
the declared serializers generate, strictly: every property the schema lists is present, nothing
else is, and each value has the schema's type, nullability and enum. A field added to one side
only fails here. (schemathesis in tests/test_schema.py checks live responses too, but loosely:
an extra key passes there.)"""

from datetime import timedelta
from functools import cache
from typing import Any

import jsonschema
import pytest
from django.utils import timezone, translation
from drf_spectacular.generators import SchemaGenerator

from apps.catalog import selectors, services
from apps.catalog.api.serializers import PRODUCT_COLUMNS, product_output
from apps.catalog.models import ProductKind
from apps.payments.api.serializers import order_output, payment_output
from apps.payments.models import Payment
from apps.payments.selectors import order_get_with_payments_for_shopper
from apps.payments.services import payment_create_for_order
from tests.catalog.test_admin_product_images import picture
from tests.factories import OperatorFactory, ProductFactory, ServiceSlotFactory, place_order


@cache
def _components() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def _strict(node: Any) -> Any:
    """The OpenAPI 3.0 schema as strict JSON Schema: `$ref`s inlined, `nullable` as a null type,
    every object closed (no other property) and all its properties required."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strict(_components()[node["$ref"].rsplit("/", 1)[-1]])
    out = {key: _strict(value) for key, value in node.items() if key not in {"nullable", "readOnly", "writeOnly"}}
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
        out["required"] = sorted(out["properties"])
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def assert_matches(component: str, data: Any) -> None:
    jsonschema.Draft7Validator(_strict({"$ref": f"#/components/schemas/{component}"})).validate(data)


def test_the_check_itself_refuses_a_missing_an_extra_and_a_mistyped_field(exhibitor_a):
    ProductFactory(exhibitor=exhibitor_a)
    good = product_output(selectors.product_list_public().only(*PRODUCT_COLUMNS).get())
    assert_matches("ProductOutput", good)

    for bad in ({k: v for k, v in good.items() if k != "price"}, {**good, "cost": 1}, {**good, "price": "19.99"},
                {**good, "kind": "voucher"}, {**good, "exhibitor": {**good["exhibitor"], "id": 1}}):
        with pytest.raises(jsonschema.ValidationError):
            assert_matches("ProductOutput", bad)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_product_output_matches_the_schema_for_every_kind_and_language(exhibitor_a, exhibitor_b, language):
    # given products of every kind, with and without Chinese texts, sale windows, limits, stock and a picture
    now = timezone.now()
    with_picture = ProductFactory(exhibitor=exhibitor_a, kind=ProductKind.COLLECTIBLE, edition_size=3,
                                  title_zh_hans="藏品", per_customer_limit=1)
    with_picture.image = picture()
    services.product_save(product=with_picture)
    ProductFactory(exhibitor=exhibitor_b, kind=ProductKind.DOWNLOAD, stock_total=4, stock_taken=1, description_zh_hans="说明",
                   sale_starts_at=now - timedelta(hours=1), sale_ends_at=now + timedelta(hours=1))
    ProductFactory(exhibitor=exhibitor_a, kind=ProductKind.DOWNLOAD, stock_total=None, sale_starts_at=now + timedelta(days=1))
    service = ProductFactory(exhibitor=exhibitor_b, kind=ProductKind.SERVICE, title_zh_hans="", description_zh_hans="咨询")
    ServiceSlotFactory(product=service, capacity=3)
    ProductFactory(exhibitor=exhibitor_a, kind=ProductKind.PASS, stock_total=10, sale_ends_at=now - timedelta(minutes=1))
    bundle = ProductFactory(exhibitor=exhibitor_a, kind=ProductKind.BUNDLE, price=5000)
    services.bundle_components_set(bundle=bundle, actor=OperatorFactory(), components=[
        services.ComponentSpec(product_id=service.pk, quantity=1, share_bps=4000),
        services.ComponentSpec(product_id=with_picture.pk, quantity=2, share_bps=6000)])

    # when the catalog's rows (only the columns the views load) are written
    rows = list(selectors.product_list_public().only(*PRODUCT_COLUMNS).order_by("id"))
    with translation.override(language):
        written = [product_output(row) for row in rows]

    # then each matches the schema, and the cases cover every kind, a picture and none, null and set values
    assert {row.kind for row in rows} == set(ProductKind.values)
    for item in written:
        assert_matches("ProductOutput", item)
    assert [item["image"] is None for item in written] == [False, True, True, True, True, True]
    assert [len(item["components"] or []) for item in written] == [0, 0, 0, 0, 0, 2]
    assert {item["remaining"] is None for item in written} == {True, False}
    assert {item["sale_starts_at"] is None for item in written} == {True, False}


def test_order_and_payment_output_match_the_schema(shopper, exhibitor_a):
    # given orders with one and several lines (a slot among them), with and without a payment
    slot = ServiceSlotFactory(product=ProductFactory(exhibitor=exhibitor_a, service=True))
    with_payment = place_order(shopper, (ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=3), 2),
                               (slot.product, 1, slot), (ProductFactory(exhibitor=exhibitor_a, stock_total=4), 3))
    payment = payment_create_for_order(order=with_payment)
    without_payment = place_order(shopper, (ProductFactory(exhibitor=exhibitor_a), 1))
    Payment.objects.filter(order=without_payment).delete()

    # when each is written as the endpoints read it
    written = [order_output(order_get_with_payments_for_shopper(user=shopper, order_id=str(order.pk)))
               for order in (with_payment, without_payment)]

    # then both match the schema, and so does the payment on its own
    for item in written:
        assert_matches("OrderOutput", item)
    assert written[0]["payment"] is not None and written[1]["payment"] is None
    assert sorted(line["slot"] is None for line in written[0]["lines"]) == [False, True, True]
    assert_matches("PaymentOutput", payment_output(payment))
