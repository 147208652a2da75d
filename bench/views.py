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
from apps.catalog.models import Product
from apps.catalog.services.inventory import inventory_claim_editions
from apps.exhibitors.models import ExhibitorStatus
from apps.orders.models import Order, OrderEvent, OrderLine, OrderLineEdition, OrderStatus
from apps.orders.services.rows import order_rows_insert
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services.payments import _insert_while_order_pending

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
    [product] = list(Product.objects.filter(id__in={int(line["product"])}, is_published=True,
                                            exhibitor__status=ExhibitorStatus.APPROVED).select_related("priority"))
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
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED).update(
        provider_reference=f"sim_pi_{payment.pk}", client_secret=secret, status=PaymentStatus.REQUIRES_PAYMENT,
        updated_at=timezone.now())
    return JsonResponse({"id": str(order.pk), "number": order.number, "status": order.status, "total": order.total,
                         "lines": [{"id": order_line.pk, "product": product.pk, "quantity": quantity}],
                         "payment": {"id": payment.pk, "client_secret": secret}}, status=201)
