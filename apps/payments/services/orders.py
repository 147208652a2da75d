"""Order flows that go through the payment provider: checkout (place, then create the payment),
the shopper's payment, cancelling (the provider's payment first, then the order) and the expiry
sweep (the provider's attempts first, then the order).

They live in payments, which may import orders: orders keeps only its state machine and holds
(`apps.orders.services`), and each order transition here is handed `payments_close_for_order_locked`
to run under the order's lock, so that no attempt can still take money once the order is closed.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.orders import services as order_services
from apps.orders.models import Order, OrderStatus
from apps.orders.services import LineRequest
from apps.payments.models import Payment
from apps.payments.services.cancel import (
    CLOSED_STATUSES,
    PaymentAlreadyTaken,
    PaymentInProgress,
    PaymentProviderUnavailable,
    PaymentsStillOpen,
    payment_cancel_for_order,
    payments_close_for_order_locked,
)
from apps.payments.services.payments import payment_get_or_create_for_order, payment_try_create_for_order
from marketplace.errors import InvalidState

logger = structlog.get_logger(__name__)

EXPIRE_BATCH = 200
CANCEL_ROUNDS = 3  # an attempt created while cancelling sends the cancel round again


def _close_payments(order: Order) -> None:
    payments_close_for_order_locked(order_id=order.pk)


def order_checkout(*, user: Any, lines: Sequence[LineRequest], voucher_id: int | None = None) -> tuple[Order, Payment | None]:
    """Place an order, then (after its hold committed) create its payment with the provider.

    Preconditions: not called inside an outer transaction (the provider must never be called while
    the hold's locks are held). Raises what `order_place` raises. A provider failure leaves the
    order pending with no payment (None); the shopper retries with POST /orders/{id}/payment.
    `voucher_id`: the shopper's voucher, taken with the hold (the payment is for the discounted total).
    """
    order = order_services.order_place(user=user, lines=lines, voucher_id=voucher_id)
    return order, payment_try_create_for_order(order=order, attempt=1)  # a new order has no attempt yet


def order_payment_for_shopper(*, order: Order) -> Payment:
    """The order's open payment, or a new attempt. Raises InvalidState unless pending payment."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise InvalidState(_("Order %(number)s is %(status)s; there is nothing to pay.")
                           % {"number": order.number, "status": order.get_status_display()})
    return payment_get_or_create_for_order(order=order)


def order_cancel_with_payment(*, order_id: Any, actor: Any = None, note: str = "cancelled") -> Order:
    """Cancel a pending order: its payment at the provider first, then the order, releasing the hold.

    A shopper told "cancelled" is never charged: the provider decides whether the cancel or the
    shopper's payment came first, and a cancelled payment can no longer succeed. Not inside a
    transaction (DESIGN.md habit 4): the attempts are cancelled at the provider with no lock held
    (`payment_cancel_for_order`), then one short transaction locks the order, re-checks that no
    attempt is still open (one created meanwhile sends it round again), transitions and releases
    the hold (`order_cancel`).

    Raises Order.DoesNotExist for an unknown id; InvalidState unless pending payment;
    PaymentAlreadyTaken (409 `already_paid`) when the provider had already taken the money (the
    order is then paid, as the payment's webhook would make it); PaymentInProgress (409
    `payment_in_progress`) while a payment is processing; PaymentProviderUnavailable (503) when
    the provider cannot be reached (the order is unchanged; retry). Idempotent: cancelling a
    cancelled order changes nothing and asks no provider.
    """
    for _round in range(CANCEL_ROUNDS):
        if Order.objects.values_list("status", flat=True).get(pk=order_id) == OrderStatus.PENDING_PAYMENT:
            payment_cancel_for_order(order_id=order_id, reason="requested_by_customer")
        try:
            return order_services.order_cancel(order_id=order_id, actor=actor, note=note, under_lock=_close_payments)
        except PaymentsStillOpen:
            logger.info("order_cancel_attempt_created_meanwhile", order_id=str(order_id))
    raise PaymentInProgress()


def orders_expire_due(*, now: datetime | None = None, batch_size: int = EXPIRE_BATCH, max_batches: int = 50) -> int:
    """Expire pending orders past `expires_at`, `batch_size` at a time.

    Each batch is picked with FOR UPDATE SKIP LOCKED in a short transaction (an order being paid
    or cancelled right now is left to that request). Then, with no transaction open, an order
    whose payment attempts could still take money has them cancelled at the provider first
    (`payment_cancel_for_order`, reason "abandoned"), so an expired order is not charged later;
    and each order is expired by `order_expire`, which re-checks its state and (here) that no
    attempt is still open under the order's lock. An order whose payment went through meanwhile
    becomes paid instead; one whose payment is processing, or whose provider cannot be reached,
    stays pending and is retried by the next sweep. An order that fails is logged and skipped.
    Idempotent; safe to overlap. Returns how many orders were expired.
    """
    now = now or timezone.now()
    expired = 0
    failed: set[Any] = set()
    for _batch in range(max_batches):
        with transaction.atomic():
            ids = list(
                Order.objects.select_for_update(skip_locked=True)
                .filter(status=OrderStatus.PENDING_PAYMENT, expires_at__lte=now)
                .exclude(pk__in=failed)
                .order_by("expires_at")
                .values_list("pk", flat=True)[:batch_size]
            )
        with_payments = set(
            Payment.objects.filter(order_id__in=ids, provider_reference__isnull=False).exclude(status__in=CLOSED_STATUSES)
            .values_list("order_id", flat=True)
        ) if ids else set()
        for order_id in ids:
            try:
                if order_id in with_payments:
                    payment_cancel_for_order(order_id=order_id, reason="abandoned")
                order_services.order_expire(order_id=order_id, now=now, under_lock=_close_payments)
                expired += 1
            except (PaymentAlreadyTaken, PaymentInProgress, PaymentProviderUnavailable, PaymentsStillOpen) as exc:
                logger.info("order_expire_deferred", order_id=str(order_id), reason=getattr(exc, "code", type(exc).__name__))
                failed.add(order_id)
            except (InvalidState, DatabaseError):
                logger.exception("order_expire_failed", order_id=str(order_id))
                failed.add(order_id)
        if len(ids) < batch_size:
            break
    return expired
