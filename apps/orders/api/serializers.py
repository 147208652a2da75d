"""Input and output of the shopper's order endpoints (API.md "Orders (shopper)").

Inputs accept only what a shopper chooses (product, quantity, slot); anything else in the body
(price, total, status, exhibitor, serial...) is ignored, since prices come from the product rows.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from apps.orders.models import Order, OrderLine
from apps.orders.selectors import order_latest_payment
from apps.orders.services import MAX_LINES, MAX_QUANTITY, LineRequest
from apps.payments.models import Payment


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


class PaymentSimulateInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["succeeded", "failed"])


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


# The contract's error shape, for the 409/422 answers the views declare themselves. Built with
# inline_serializer because a declared field named `errors` would shadow Serializer.errors.
ErrorResponseSerializer = inline_serializer(
    name="OrderErrorResponse", fields={"type": serializers.CharField(), "errors": ErrorItemSerializer(many=True)},
)
