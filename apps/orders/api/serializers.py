"""Input of the shopper's order endpoints and the order line's output (API.md "Orders (shopper)").

Inputs accept only what a shopper chooses (product, quantity, slot); anything else in the body
(price, total, status, exhibitor, serial...) is ignored, since prices come from the product rows.

The order output carries the order's payment, so it and the endpoints live in payments, above
orders (apps/payments/api/serializers.py and orders.py).
"""

from typing import Any, TypeGuard

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.orders.models import OrderLine
from apps.orders.services import MAX_BUNDLE_COMPONENTS, MAX_LINES, MAX_QUANTITY, LineRequest


class ComponentSlotsField(serializers.DictField):
    """{"<component product id>": slot id} as ((product id, slot id), ...), sorted.

    Checked as a whole, so every refusal is the field's own (`lines.<n>.component_slots`, code
    `invalid`): a per-key error would name an attribute after whatever key was sent.
    """

    default_error_messages = {"invalid": _("component_slots maps the product ids of a bundle's services to slot ids "
                                           "(at most {max}).")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(min_value=1), **kwargs)

    def to_internal_value(self, data: Any) -> tuple[tuple[int, int], ...]:  # type: ignore[override]
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        if len(data) > MAX_BUNDLE_COMPONENTS:
            self.fail("invalid", max=MAX_BUNDLE_COMPONENTS)
        pairs = []
        for key, value in data.items():
            if not (isinstance(key, str) and key.isascii() and key.isdigit() and 1 <= int(key) < 2**63):
                self.fail("invalid", max=MAX_BUNDLE_COMPONENTS)
            try:
                slot_id = self.child.run_validation(value)
            except serializers.ValidationError:
                self.fail("invalid", max=MAX_BUNDLE_COMPONENTS)
            if slot_id >= 2**63:
                self.fail("invalid", max=MAX_BUNDLE_COMPONENTS)
            pairs.append((int(key), slot_id))
        return tuple(sorted(pairs))


class OrderLineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    slot = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    component_slots = ComponentSlotsField(
        required=False, default=(),
        help_text='Bundles: the slot of each service in the bundle, {"<component product id>": slot id}.')


class OrderCreateInputSerializer(serializers.Serializer):
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    voucher = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                       help_text="One of the shopper's available vouchers (GET /api/v1/vouchers/).")

    def to_line_requests(self) -> list[LineRequest]:
        return [LineRequest(product_id=line["product"], quantity=line["quantity"], slot_id=line["slot"],
                            component_slots=line["component_slots"])
                for line in self.validated_data["lines"]]


BIGINT = 2**63


def _is_id(value: Any) -> TypeGuard[int]:
    return type(value) is int and 1 <= value < BIGINT  # JSON integers only: bool, float and str go to DRF


def _plain_order_input(data: Any) -> tuple[list[LineRequest], int | None] | None:
    """A plain, well-formed body read directly, or None for anything else.

    Accepts only what OrderCreateInputSerializer accepts unchanged (JSON integers in range,
    absent or null slot and voucher, no `component_slots`), and reads it to the same values, so
    the answer cannot differ from the serializer's; every other body (an error, a string number,
    a bundle's component slots) takes the serializer. Building the nested serializers and their
    fields was most of what DRF's validation cost per purchase (bench/cpu.py, issue 15).
    """
    if type(data) is not dict:
        return None
    lines, voucher = data.get("lines"), data.get("voucher")
    if type(lines) is not list or not 1 <= len(lines) <= MAX_LINES or (voucher is not None and not _is_id(voucher)):
        return None
    requests = []
    for line in lines:
        if type(line) is not dict or "component_slots" in line:
            return None
        product, quantity, slot = line.get("product"), line.get("quantity", 1), line.get("slot")
        if not _is_id(product) or type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
            return None
        if slot is not None and not _is_id(slot):
            return None
        requests.append(LineRequest(product_id=product, quantity=quantity, slot_id=slot))
    return requests, voucher


def order_create_input(data: Any) -> tuple[list[LineRequest], int | None]:
    """The body of POST /orders/ as (line requests, voucher id or None).

    OrderCreateInputSerializer is the declaration (the OpenAPI schema, every error's code and
    message); a plain body is read without building it (`_plain_order_input`). Raises DRF's
    ValidationError as `is_valid(raise_exception=True)` does.
    """
    plain = _plain_order_input(data)
    if plain is not None:
        return plain
    serializer = OrderCreateInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.to_line_requests(), serializer.validated_data["voucher"]


class OrderLineBundleSerializer(serializers.Serializer):
    # A line that is part of a bundle: which bundle, and how many of it were ordered.
    product = serializers.IntegerField(read_only=True, help_text="The bundle product's id.")
    quantity = serializers.IntegerField(read_only=True, help_text="Bundles ordered.")


class OrderLineOutputSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id")
    slot = serializers.IntegerField(source="slot_id", allow_null=True)
    bundle = OrderLineBundleSerializer(read_only=True, allow_null=True,
                                       help_text="The bundle this line is part of (a bundle is ordered as one line and placed "
                                                 "as lines of its products, each priced at its share); null otherwise.")

    class Meta:
        model = OrderLine
        fields = ["id", "product", "quantity", "unit_price", "total", "slot", "bundle"]
        read_only_fields = fields


def order_line_bundle_output(line: OrderLine) -> dict[str, int] | None:
    """The `bundle` of an order line's output (see OrderLineBundleSerializer)."""
    if line.bundle_id is None:
        return None
    return {"product": line.bundle_id, "quantity": line.bundle_quantity or 0}
