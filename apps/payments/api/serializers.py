"""Output of the shopper's order endpoints (API.md "Orders (shopper)"): the order with its payment,
composed here, in payments, which may read both; and the simulated payment's input.

One source of truth per shape: `order_output()` and `payment_output()` are the only code that
writes an order or a payment (one dict display: building three ModelSerializers' fields on every
response was ≈1 ms of each purchase, bench S1 profile). The serializers only declare the fields
for the OpenAPI schema and hand writing to those functions; tests/test_output_shapes.py validates
what the functions write against the generated schema (every property present, no other).
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.orders.api.serializers import OrderLineOutputSerializer, order_line_bundle_output
from apps.orders.models import Order
from apps.payments.models import Payment
from apps.payments.selectors import order_latest_payment
from marketplace.api.representation import iso_datetime


def payment_output(payment: Payment) -> dict[str, Any]:
    """A payment as API.md gives it (what the shopper's app needs to confirm it)."""
    return {"provider": payment.provider, "status": payment.status, "client_secret": payment.client_secret}


def order_output(order: Order, *, payment: Payment | None = None) -> dict[str, Any]:
    """An order as API.md gives it, with its lines and its latest payment (`payment`, when the
    caller has it, else read from the prefetched payments of the shopper's selectors)."""
    payment = payment or order_latest_payment(order)
    return {
        "id": str(order.pk),
        "number": order.number,
        "status": order.status,
        "currency": order.currency,
        "subtotal": order.subtotal,
        "discount": order.discount,
        "total": order.total,
        "voucher": order_voucher_output(order),
        "expires_at": iso_datetime(order.expires_at),
        "created_at": iso_datetime(order.created_at),
        "lines": [
            {"id": line.pk, "product": line.product_id, "quantity": line.quantity, "unit_price": line.unit_price,
             "total": line.total, "slot": line.slot_id, "bundle": order_line_bundle_output(line)}
            for line in order.lines.all()
        ],
        "payment": None if payment is None else payment_output(payment),
    }


def order_voucher_output(order: Order) -> dict[str, Any] | None:
    """The voucher applied to the order ({id, campaign}); no query for an order without discount."""
    if not order.discount:
        return None
    redemption = getattr(order, "voucher_redemption", None)
    if redemption is None:
        return None
    return {"id": redemption.voucher_id, "campaign": redemption.campaign.slug}


class OrderVoucherOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The voucher's id.")
    campaign = serializers.SlugField(help_text="The voucher's campaign.")


class PaymentOutputSerializer(serializers.ModelSerializer):
    # The payment's shape for the OpenAPI schema only; `payment_output()` writes it.
    class Meta:
        model = Payment
        fields = ["provider", "status", "client_secret"]
        read_only_fields = fields

    def to_representation(self, instance: Payment) -> dict[str, Any]:
        return payment_output(instance)


class OrderOutputSerializer(serializers.ModelSerializer):
    # The order's shape for the OpenAPI schema only; `order_output()` writes it.
    lines = OrderLineOutputSerializer(many=True, read_only=True)
    payment = serializers.SerializerMethodField()
    voucher = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "number", "status", "currency", "subtotal", "discount", "total", "voucher", "expires_at", "created_at",
                  "lines", "payment"]
        read_only_fields = fields

    @extend_schema_field(PaymentOutputSerializer(allow_null=True))
    def get_payment(self, order: Order) -> dict[str, Any] | None:  # the schema's field; never called
        raise NotImplementedError

    @extend_schema_field(OrderVoucherOutputSerializer(allow_null=True))
    def get_voucher(self, order: Order) -> dict[str, Any] | None:  # the schema's field; never called
        raise NotImplementedError

    def to_representation(self, instance: Order) -> dict[str, Any]:
        return order_output(instance, payment=self.context.get("payment"))


class PaymentSimulateInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["succeeded", "failed"])
