"""Shopper order endpoints (API.md "Orders (shopper)"). Transport only: services do the work.

Here, in payments, not in orders: every one of them involves the order's payment (checkout creates
it, cancel cancels it at the provider first, the output carries it), and payments may import orders.
The URLs, names and operation ids are those of API.md (apps/payments/api/urls.py).

Every lookup goes through `order_get_with_payments_for_shopper`, so another shopper's order, an
unknown id and a malformed id all answer 404 `not_found`.
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog.errors import BallotRequired
from apps.orders.api.serializers import OrderCreateInputSerializer, order_create_input
from apps.orders.models import Order
from apps.payments.api.serializers import (
    OrderOutputSerializer,
    PaymentOutputSerializer,
    PaymentSimulateInputSerializer,
    order_output,
    payment_output,
)
from apps.payments.selectors import order_get_with_payments_for_shopper, order_list_with_payments_for_shopper
from apps.payments.services import orders as services
from apps.payments.services.cancel import PaymentAlreadyTaken, PaymentInProgress, PaymentProviderUnavailable
from apps.payments.services.payments import payment_simulate
from apps.vouchers.errors import VoucherNotApplicable
from marketplace.api.idempotency import HEADER, MAX_KEY_LENGTH, REPLAY_HEADER, idempotent
from marketplace.api.pagination import CursorPagination
from marketplace.api.schema import error_responses
from marketplace.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    InvalidState,
    LimitExceeded,
    NotOnSale,
    SlotFull,
    SlotRequired,
    SoldOut,
    ValidationFailed,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    name=HEADER, type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}, location=OpenApiParameter.HEADER,
    required=False,
    description="Same key and body within 24 h replays the first response; another body answers 422; "
                "a key whose first request is still running answers 409; an empty, longer or unprintable key 400.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    name=REPLAY_HEADER, type={"type": "string", "enum": ["true"]}, location=OpenApiParameter.HEADER, response=True,
    description="Present on a replayed response (the same Idempotency-Key and body as an earlier request).",
)


class OrderListCreateView(GenericAPIView):
    """GET: the shopper's orders, newest first. POST: place an order (holds its inventory).

    One URL, two actions, each with its own serializers (GenericAPIView only for pagination).
    """

    pagination_class = CursorPagination
    queryset = Order.objects.none()  # for the schema only; rows come from the selector
    ordering = "-created_at"

    @extend_schema(tags=["orders"], operation_id="orders_list", responses=OrderOutputSerializer(many=True))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(order_list_with_payments_for_shopper(user=request.user))
        return self.get_paginated_response([order_output(order) for order in page or ()])

    @extend_schema(
        tags=["orders"], operation_id="orders_create", request=OrderCreateInputSerializer,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED],
        responses={201: OrderOutputSerializer, **error_responses(
            SlotRequired, InvalidIdempotencyKey, SoldOut, SlotFull, LimitExceeded, NotOnSale, InvalidState, IdempotencyKeyInUse,
            IdempotencyKeyReused, VoucherNotApplicable, BallotRequired,
            fields={"lines": [ValidationFailed, "required", "null", "not_a_list", "empty", "max_length"],
                    "voucher": ["invalid", "min_value", "max_string_length"]})},
    )
    @idempotent
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lines, voucher_id = order_create_input(request.data)  # OrderCreateInputSerializer's rules and errors
        order, payment = services.order_checkout(user=request.user, lines=lines, voucher_id=voucher_id)
        return Response(order_output(order, payment=payment), status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    @extend_schema(tags=["orders"], operation_id="orders_retrieve", responses=OrderOutputSerializer)
    def get(self, request: Request, order_id: str, *args: Any, **kwargs: Any) -> Response:
        order = order_get_with_payments_for_shopper(user=request.user, order_id=order_id)
        return Response(order_output(order))


class OrderCancelView(APIView):
    @extend_schema(tags=["orders"], operation_id="orders_cancel", request=None,
                   responses={200: OrderOutputSerializer,
                              **error_responses(InvalidState, PaymentAlreadyTaken, PaymentInProgress,
                                                PaymentProviderUnavailable)})
    def post(self, request: Request, order_id: str, *args: Any, **kwargs: Any) -> Response:
        order = order_get_with_payments_for_shopper(user=request.user, order_id=order_id)
        services.order_cancel_with_payment(order_id=order.pk, actor=request.user, note="cancelled by the shopper")
        return Response(order_output(order_get_with_payments_for_shopper(user=request.user, order_id=order_id)))


class OrderPaymentView(APIView):
    @extend_schema(tags=["orders"], operation_id="orders_payment", request=None,
                   responses={200: PaymentOutputSerializer, **error_responses(InvalidState)})
    def post(self, request: Request, order_id: str, *args: Any, **kwargs: Any) -> Response:
        order = order_get_with_payments_for_shopper(user=request.user, order_id=order_id)
        payment = services.order_payment_for_shopper(order=order)
        return Response(payment_output(payment))


class OrderPaymentSimulateView(APIView):
    """Simulated provider only (404 otherwise): the outcome travels the webhook event path."""

    @extend_schema(tags=["orders"], operation_id="orders_payment_simulate", request=PaymentSimulateInputSerializer,
                   responses={202: PaymentOutputSerializer, **error_responses(InvalidState)})
    def post(self, request: Request, order_id: str, *args: Any, **kwargs: Any) -> Response:
        serializer = PaymentSimulateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = order_get_with_payments_for_shopper(user=request.user, order_id=order_id)
        payment = payment_simulate(order=order, outcome=serializer.validated_data["outcome"])
        return Response(payment_output(payment), status=status.HTTP_202_ACCEPTED)
