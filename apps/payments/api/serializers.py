"""Output of the shopper's order endpoints (API.md "Orders (shopper)"): the order with its payment,
composed here, in payments, which may read both; and the simulated payment's input.

`OrderOutputSerializer` declares its fields for the OpenAPI schema (and as the reference) but
writes an order with one dict display: building the three ModelSerializers' fields on every
response was ≈1 ms of each purchase (bench S1 profile). tests/orders/test_api.py proves the two
outputs equal.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.orders.api.serializers import OrderLineOutputSerializer
from apps.orders.models import Order
from apps.payments.models import Payment
from apps.payments.selectors import order_latest_payment
from marketplace.api.representation import iso_datetime


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
