"""Cancelling an order's payments at the provider, so that a cancelled (or expired) order can
never be charged.

The provider decides the race between the shopper paying and the cancel (a Stripe PaymentIntent
that was cancelled can no longer succeed; one that succeeded can no longer be cancelled), so the
cancel asks the provider first, outside any transaction and row lock (DESIGN.md habit 4), and the
order is closed afterwards in a short transaction that re-checks, under the order's lock, that
every attempt is closed (`payments_close_for_order_locked`). An attempt created meanwhile is seen
there (payment creation inserts its row only while the order is pending, under a share lock on
the order row), and the caller cancels it in another round.
"""

from typing import Any, cast

import structlog
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.payments.models import Payment, PaymentStatus
from apps.payments.providers import PaymentProviderError, get_provider
from apps.payments.services.payments import payment_apply_state
from marketplace.errors import DomainError, InvalidState
from marketplace.transitions import record_transitions

logger = structlog.get_logger(__name__)

# Closed attempts: cancelled at the provider, or the one that paid.
CLOSED_STATUSES = (PaymentStatus.CANCELLED, PaymentStatus.SUCCEEDED)


class PaymentAlreadyTaken(InvalidState):
    """The provider has already taken the money: the order is paid, not cancelled."""

    code = "already_paid"
    default_detail = _("The payment for this order has already gone through, so it cannot be cancelled; "
                       "the order is paid.")


class PaymentInProgress(InvalidState):
    """The provider is taking the money right now (e.g. a bank or wallet confirmation)."""

    code = "payment_in_progress"
    default_detail = _("A payment for this order is being processed, so it cannot be cancelled now; "
                       "try again once the payment has completed or failed.")


class PaymentProviderUnavailable(DomainError):
    """The provider could not be asked to cancel: nothing changed; the same call may be retried."""

    code = "payment_provider_unavailable"
    status_code = 503
    default_detail = _("The payment provider could not be reached, so nothing was cancelled; please try again.")


class PaymentsStillOpen(Exception):
    """Raised under the order's lock: an attempt still open at the provider (created meanwhile)."""


def payment_cancel_for_order(*, order_id: Any, reason: str = "requested_by_customer") -> int:
    """Cancel at the provider every attempt of the order that could still take money, and record
    the provider's answer on each (through `payment_apply_state`, a short transaction).

    Not inside a transaction (the provider is called). `reason` is Stripe's cancellation reason
    (`requested_by_customer`, `abandoned`). Raises PaymentAlreadyTaken when an attempt had already
    succeeded (recording it makes a pending order paid, as its webhook would), PaymentInProgress
    when one is processing, PaymentProviderUnavailable when the provider cannot be reached or
    answers something else (attempts already cancelled stay cancelled; retry). Idempotent: returns
    how many attempts were cancelled now, 0 when there was nothing to cancel.
    """
    attempts = list(Payment.objects.filter(order_id=order_id, provider_reference__isnull=False)
                    .exclude(status__in=CLOSED_STATUSES).order_by("attempt").values_list("pk", "provider", "provider_reference"))
    cancelled, refusal = 0, cast(DomainError | None, None)
    for payment_id, provider, reference in attempts:
        try:
            state = get_provider(provider).cancel_payment(payment_id=payment_id, reference=str(reference), reason=reason)
        except PaymentProviderError as exc:
            logger.warning("payment_cancel_failed", order_id=str(order_id), payment_id=payment_id, error=str(exc),
                           retryable=exc.retryable)
            raise PaymentProviderUnavailable() from exc
        payment_apply_state(payment_id=payment_id, state=state)
        if state.status == PaymentStatus.CANCELLED:
            cancelled += 1
        elif state.status == PaymentStatus.SUCCEEDED:
            refusal = PaymentAlreadyTaken()
        elif state.status == PaymentStatus.PROCESSING:
            refusal = refusal or PaymentInProgress()
        else:  # the provider refused, yet the payment is not taken: its state changed under us
            logger.warning("payment_cancel_unexpected_state", order_id=str(order_id), payment_id=payment_id,
                           status=state.status)
            refusal = refusal or PaymentProviderUnavailable()
    logger.info("payment_cancel_for_order", order_id=str(order_id), attempts=len(attempts), cancelled=cancelled,
                refused=getattr(refusal, "code", None))
    if refusal is not None:
        raise refusal
    return cancelled


def payments_close_for_order_locked(*, order_id: Any) -> None:
    """Under the order's row lock (the caller's transaction, closing the order): make sure no
    attempt can still take money. An attempt without a provider reference (its create failed, or
    is in flight and will then find it closed) is marked cancelled here. Raises PaymentsStillOpen
    if an attempt with a reference is still open (created after `payment_cancel_for_order` looked):
    the caller rolls back, cancels it and tries again.
    """
    open_attempts = list(Payment.objects.filter(order_id=order_id).exclude(status__in=CLOSED_STATUSES)
                         .values_list("pk", "provider_reference"))
    if any(reference for _pk, reference in open_attempts):
        raise PaymentsStillOpen()
    if open_attempts:
        bare = [pk for pk, _reference in open_attempts]
        closed = (Payment.objects.filter(pk__in=bare, provider_reference__isnull=True)
                  .update(status=PaymentStatus.CANCELLED, updated_at=timezone.now()))
        if closed != len(bare):  # a create finished meanwhile: it has a reference now
            raise PaymentsStillOpen()
        # Without a reference an attempt never left `created` (the reference and the provider's
        # status are written together).
        record_transitions(Payment, bare, name="close", from_state=PaymentStatus.CREATED,
                           to_state=PaymentStatus.CANCELLED, reason="order closed before the provider was reached")
