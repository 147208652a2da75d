"""The ceilings that are Django views. S3's: the same product rows as GET /api/v1/products/, as plain dicts, from a bare DRF view.

It runs the catalog selector's query (same filters, annotations, ordering and LIMIT page+1 as the
cursor paginator) but skips what the real endpoint adds on top: authentication, throttling,
django-filter, cursor encoding and the ModelSerializer. The ratio real/minimal is what that costs.
"""

import json
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog import selectors
from apps.catalog.selectors_placement import product_map_for_placement, slot_map_for_placement
from apps.catalog.services.inventory import (
    InventorySlotFull,
    inventory_claim_editions,
    inventory_claim_slots,
    inventory_flag_sold_out,
    inventory_flags,
    inventory_remaining,
)
from apps.orders.models import Order, OrderEvent, OrderLine, OrderLineEdition, OrderStatus
from apps.orders.services.rows import order_rows_insert
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services.payments import _insert_while_order_pending, _store_provider_result

COLUMNS = (
    "id", "slug", "kind", "title", "title_zh_hans", "description", "exhibitor__slug", "exhibitor__name", "price",
    "currency", "on_sale", "sale_starts_at", "sale_ends_at", "per_customer_limit", "remaining", "edition_size",
)


class MinimalProductListView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        size = min(max(int(request.query_params.get("page_size", 20)), 1), 100)
        rows = list(selectors.product_list_public().order_by("-id").values(*COLUMNS)[: size + 1])
        return Response({"next": None, "previous": None, "results": rows[:size]})


# --- S1b: the framework floor of a purchase ---------------------------------------------------------


@csrf_exempt
def bare_purchase(request: HttpRequest) -> JsonResponse:
    """S1b's ceiling: POST /api/v1/orders/'s statements from a bare Django view, no DRF.

    `{"lines": [{"product": id, "quantity": n}]}` of one collectible, `X-Session-Token` as the
    real endpoint takes it. The same server and middleware; the same statements in the same
    transactions: the session read (cache), the product SELECT, the edition claim and the order's
    rows (the placement's own SQL: `inventory_claim_editions`, `order_rows_insert`), then the
    payment's INSERT and UPDATE. What it leaves out is what S1b measures: DRF (request, parsers,
    authentication classes, throttles, serializers, renderer), the services' validation and
    checks, the idempotency decorator, the output writer and the placement log line.
    """
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    session = SessionStore(session_key=request.headers.get("X-Session-Token", ""))
    user_id = session.get(SESSION_KEY)
    if not session.session_key or user_id is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    line = json.loads(request.body)["lines"][0]
    # The placement's product query, as it is (apps/orders/services/placement.py `_load_products`).
    [product] = product_map_for_placement(ids={int(line["product"])}).values()
    quantity = int(line.get("quantity", 1))
    now = timezone.now()
    with transaction.atomic():
        claimed = inventory_claim_editions(wanted={product.pk: (quantity, product.edition_size or 0)})
        total = product.price * quantity
        order = Order(user_id=int(user_id), currency=product.currency, subtotal=total, total=total,
                      expires_at=now + settings.MARKETPLACE["ORDER_HOLD"], status_changed_at=now)
        order_line = OrderLine(order=order, product=product, exhibitor_id=product.exhibitor_id, title=product.title_en,
                               quantity=quantity, unit_price=product.price, total=total, currency=product.currency)
        links = [OrderLineEdition(line=order_line, edition_id=edition_id) for edition_id, _ in claimed[product.pk]]
        event = OrderEvent(order=order, from_status="", to_status=OrderStatus.PENDING_PAYMENT, actor_id=int(user_id),
                           note="placed", payload={"serials": {str(product.pk): [s for _, s in claimed[product.pk]]}})
        order_rows_insert(order=order, lines=[order_line], links=links, event=event)
    payment = Payment(order=order, attempt=1, provider="simulated", amount=total, currency=order.currency)
    _insert_while_order_pending(payment)  # the endpoint's INSERT ... SELECT (only while the order is pending)
    secret = f"sim_pi_{payment.pk}_secret_{secrets.token_urlsafe(18)}"
    payment.provider_reference, payment.client_secret = f"sim_pi_{payment.pk}", secret
    payment.status, payment.updated_at = PaymentStatus.REQUIRES_PAYMENT, timezone.now()
    _store_provider_result(payment)  # the endpoint's UPDATE (only while the attempt is still `created`)
    return JsonResponse({"id": str(order.pk), "number": order.number, "status": order.status, "total": order.total,
                         "lines": [{"id": order_line.pk, "product": product.pk, "quantity": quantity}],
                         "payment": {"id": payment.pk, "client_secret": secret}}, status=201)


# --- S5's floor: a booking from a bare Django view ----------------------------------------------------


@csrf_exempt
def bare_booking(request: HttpRequest) -> JsonResponse:
    """S5's floor: POST /api/v1/orders/ with a slot, its statements from a bare Django view, no DRF.

    `{"lines": [{"product": id, "quantity": n, "slot": id}]}` of one service, `X-Session-Token`.
    What the endpoint does and this view does too, with the same code where it is a statement:
    the session read (cache), the Redis full-slot flag (`inventory_flags`), the product and slot
    SELECTs, the conditional slot update (`inventory_claim_slots`) and the order's rows
    (`order_rows_insert`) in one transaction, then the payment's INSERT and UPDATE; a refused
    claim reads what remains and raises the flag (`inventory_remaining`, `inventory_flag_sold_out`)
    and answers 409. What it leaves out is DRF, validation, idempotency and the output writer.
    """
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    session = SessionStore(session_key=request.headers.get("X-Session-Token", ""))
    user_id = session.get(SESSION_KEY)
    if not session.session_key or user_id is None:
        return JsonResponse({"detail": "unauthenticated"}, status=401)
    line = json.loads(request.body)["lines"][0]
    slot_id, quantity = int(line["slot"]), int(line.get("quantity", 1))
    if inventory_flags(product_ids=[int(line["product"])], slot_ids=[slot_id])[1]:
        return JsonResponse({"code": "slot_full"}, status=409)
    [product] = product_map_for_placement(ids={int(line["product"])}).values()
    slots = slot_map_for_placement(ids={slot_id})
    now = timezone.now()
    total = product.price * quantity
    try:
        with transaction.atomic():
            inventory_claim_slots(wanted={slots[slot_id].pk: quantity})
            order = Order(user_id=int(user_id), currency=product.currency, subtotal=total, total=total,
                          expires_at=now + settings.MARKETPLACE["ORDER_HOLD"], status_changed_at=now)
            order_line = OrderLine(order=order, product=product, exhibitor_id=product.exhibitor_id, slot_id=slot_id,
                                   title=product.title_en, quantity=quantity, unit_price=product.price, total=total,
                                   currency=product.currency)
            event = OrderEvent(order=order, from_status="", to_status=OrderStatus.PENDING_PAYMENT, actor_id=int(user_id),
                               note="placed", payload={})
            order_rows_insert(order=order, lines=[order_line], links=[], event=event)
    except InventorySlotFull:
        if inventory_remaining(slot_ids=[slot_id])["slots"].get(slot_id) == 0:
            inventory_flag_sold_out(slot_ids=[slot_id])
        return JsonResponse({"code": "slot_full"}, status=409)
    payment = Payment(order=order, attempt=1, provider="simulated", amount=total, currency=order.currency)
    _insert_while_order_pending(payment)
    secret = f"sim_pi_{payment.pk}_secret_{secrets.token_urlsafe(18)}"
    payment.provider_reference, payment.client_secret = f"sim_pi_{payment.pk}", secret
    payment.status, payment.updated_at = PaymentStatus.REQUIRES_PAYMENT, timezone.now()
    _store_provider_result(payment)  # the endpoint's UPDATE (only while the attempt is still `created`)
    return JsonResponse({"id": str(order.pk), "number": order.number, "status": order.status, "total": order.total,
                         "lines": [{"id": order_line.pk, "product": product.pk, "quantity": quantity, "slot": slot_id}],
                         "payment": {"id": payment.pk, "client_secret": secret}}, status=201)
