"""Writes for payments: the hand-off from a placed order to the payment provider.

The provider is always called outside any transaction that holds inventory or row locks
(DESIGN.md habit 4): the row is written first (its id is the provider's idempotency key), the
provider is called, then the result is stored, each in its own short step.
"""

from typing import TYPE_CHECKING

import structlog
from django.db import transaction
from django.db.models import Max

from apps.payments.models import OPEN_STATUSES, Payment, PaymentStatus
from apps.payments.providers import PaymentProviderError, get_provider

if TYPE_CHECKING:
    from apps.orders.models import Order

logger = structlog.get_logger(__name__)


def payment_create_for_order(*, order: "Order") -> Payment:
    """Create a new payment attempt for the order's total with the configured provider.

    Preconditions: the order is committed and pending payment (checked by the caller; this
    function does not lock the order). Not idempotent: each call is a new attempt. Raises
    PaymentProviderError when the provider fails; the attempt then stays `created` without a
    client secret, and a later call makes a new attempt.
    """
    provider = get_provider()
    with transaction.atomic():
        attempt = (Payment.objects.filter(order=order).aggregate(n=Max("attempt"))["n"] or 0) + 1
        payment = Payment.objects.create(
            order=order, attempt=attempt, provider=provider.name, amount=order.total, currency=order.currency,
        )
    result = provider.create_payment(payment_id=payment.pk, amount=payment.amount, currency=payment.currency,
                                     order_number=order.number)
    payment.provider_reference = result.reference
    payment.client_secret = result.client_secret
    payment.status = result.status
    payment.save(update_fields=["provider_reference", "client_secret", "status", "updated_at"])
    return payment


def payment_get_or_create_for_order(*, order: "Order") -> Payment:
    """The order's open payment with a client secret, or a new attempt if there is none.

    Idempotent while an open attempt exists. Raises PaymentProviderError like
    `payment_create_for_order`.
    """
    current = Payment.objects.filter(order=order, status__in=OPEN_STATUSES).exclude(client_secret="").order_by("-attempt").first()
    if current is not None:
        return current
    return payment_create_for_order(order=order)


def payment_try_create_for_order(*, order: "Order") -> Payment | None:
    """`payment_create_for_order`, but a provider failure is logged and answered with None: the
    order and its hold stand, and the shopper retries through POST /orders/{id}/payment."""
    try:
        return payment_create_for_order(order=order)
    except PaymentProviderError:
        logger.warning("payment_create_failed", order_id=str(order.pk), exc_info=True)
        return None


__all__ = ["PaymentStatus", "payment_create_for_order", "payment_get_or_create_for_order", "payment_try_create_for_order"]
