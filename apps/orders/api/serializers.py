"""Input and output of the shopper's order endpoints (API.md "Orders (shopper)").

Inputs accept only what a shopper chooses (product, quantity, slot); anything else in the body
(price, total, status, exhibitor, serial...) is ignored, since prices come from the product rows.

`OrderOutputSerializer` declares its fields for the OpenAPI schema (and as the reference) but
writes an order with one dict display: building the three ModelSerializers' fields on every
response was ≈1 ms of each purchase (bench S1 profile). tests/orders/test_api.py proves the two
outputs equal.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.orders.models import Order, OrderLine
from apps.orders.selectors import order_latest_payment
from apps.orders.services import MAX_LINES, MAX_QUANTITY, LineRequest
from apps.payments.models import Payment
from marketplace.api.representation import iso_datetime


class OrderLineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    slot = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class OrderCreateInputSerializer(serializers.Serializer):
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]

    def to_line_requests(self) -> list[LineRequest]:
        return [LineRequest(product_id=line["product"], quantity=line["quantity"], slot_id=line["slot"])
                for line in self.validated_data["lines"]]


class OrderLineOutputSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id")
    slot = serializers.IntegerField(source="slot_id", allow_null=True)

    class Meta:
        model = OrderLine
        fields = ["id", "product", "quantity", "unit_price", "total", "slot"]
        read_only_fields = fields


class PaymentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["provider", "status", "client_secret"]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    lines = OrderLineOutputSerializer(many=True, read_only=True)
    payment = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "number", "status", "currency", "subtotal", "total", "expires_at", "created_at", "lines", "payment"]
        read_only_fields = fields

    @extend_schema_field(PaymentOutputSerializer(allow_null=True))
    def get_payment(self, order: Order) -> dict[str, Any] | None:
        payment = self.context.get("payment") or order_latest_payment(order)
        return PaymentOutputSerializer(payment).data if payment else None

    def to_representation(self, instance: Order) -> dict[str, Any]:
        payment = self.context.get("payment") or order_latest_payment(instance)
        return {
            "id": str(instance.pk),
            "number": instance.number,
            "status": instance.status,
            "currency": instance.currency,
            "subtotal": instance.subtotal,
            "total": instance.total,
            "expires_at": iso_datetime(instance.expires_at),
            "created_at": iso_datetime(instance.created_at),
            "lines": [
                {"id": line.pk, "product": line.product_id, "quantity": line.quantity, "unit_price": line.unit_price,
                 "total": line.total, "slot": line.slot_id}
                for line in instance.lines.all()
            ],
            "payment": None if payment is None else {
                "provider": payment.provider, "status": payment.status, "client_secret": payment.client_secret,
            },
        }


class PaymentSimulateInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["succeeded", "failed"])
