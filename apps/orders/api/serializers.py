"""Input of the shopper's order endpoints and the order line's output (API.md "Orders (shopper)").

Inputs accept only what a shopper chooses (product, quantity, slot); anything else in the body
(price, total, status, exhibitor, serial...) is ignored, since prices come from the product rows.

The order output carries the order's payment, so it and the endpoints live in payments, above
orders (apps/payments/api/serializers.py and orders.py).
"""

from rest_framework import serializers

from apps.orders.models import OrderLine
from apps.orders.services import MAX_LINES, MAX_QUANTITY, LineRequest


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
