"""Payment attempts: creation with the provider, and applying the provider's state to our rows.

The provider is always called outside any transaction (the row is written first, its id is the
idempotency key; the provider is called; the result is stored), DESIGN.md habit 4.
`payment_sync` is the one way a payment's outcome reaches an order: webhooks, the simulate
endpoint and the reconciliation sweep all end there, and it re-reads the provider rather than
trusting an event body.
"""

from functools import cache
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.orders import services as order_services
from apps.orders.models import Order, OrderStatus
from apps.payments.models import OPEN_STATUSES, Payment, PaymentStatus, Refund, RefundKind, RefundStatus
from apps.payments.providers import PaymentProviderError, PaymentState, get_provider
from apps.payments.services.common import ledger_write, raise_to_operators
from apps.payments.services.subsidy import subsidy_record_for_order
from apps.vouchers.errors import VoucherNotApplicable
from marketplace import events
from marketplace.tasks import enqueue_on_commit
from marketplace.transitions import transition

logger = structlog.get_logger(__name__)


def payment_create_for_order(*, order: Order, attempt: int | None = None) -> Payment:
    """Create a new payment attempt for the order's total with the configured provider.

    Preconditions: the order is committed and pending payment (checked by the caller); not called
    inside a transaction. `attempt`: the caller may name it when it knows (1 for an order it has
    just placed: one INSERT, no read); None numbers it after the order's existing attempts. Not
    idempotent: each call is a new attempt (whose provider call is idempotent on the attempt's
    id); two attempts with one number fail on the (order, attempt) unique constraint. Raises
    PaymentProviderError when the provider fails; the attempt then stays `created` without a
    client secret, and a later call makes a new attempt. Raises InvalidState when the order is no
    longer pending payment in the database (cancelled or expired meanwhile, e.g. by a concurrent
    cancel): no attempt is then created, or the one created is cancelled at the provider.
    """
    provider = get_provider()
    if attempt is None:
        attempt = (Payment.objects.filter(order=order).aggregate(n=Max("attempt"))["n"] or 0) + 1
    payment = Payment(order=order, attempt=attempt, provider=provider.name, amount=order.total, currency=order.currency)
    if not _insert_while_order_pending(payment):
        raise _order_closed(order)
    result = provider.create_payment(payment_id=payment.pk, amount=payment.amount, currency=payment.currency,
                                     order_number=order.number, order_id=str(order.pk))
    payment.provider_reference = result.reference
    payment.client_secret = result.client_secret
    payment.status = result.status if result.status != PaymentStatus.SUCCEEDED else PaymentStatus.PROCESSING
    payment.updated_at = timezone.now()
    # Only while still `created`: the order's cancel closes an attempt it finds without a
    # reference (a create in flight); then this one must not hand out a client secret.
    if not _store_provider_result(payment):
        _cancel_orphan(payment_id=payment.pk, reference=result.reference)
        raise _order_closed(order)
    return payment


# The attempt's two statements are written once per process from the model's fields (`db_type`
# and the quoting are a good part of a statement's cost when asked every time; bench/cpu.py,
# issue 15). Both stay two: the provider is called between them with the row's id as its
# idempotency key, so the row must exist first (DESIGN.md habit 4).
_STORED = ("provider_reference", "client_secret", "status", "updated_at")


@cache
def _insert_sql() -> tuple[tuple[Any, ...], str]:
    fields = tuple(f for f in Payment._meta.local_concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
    order_pk, order_status = quote(Order._meta.pk.column), quote(Order._meta.get_field("status").column)  # type: ignore[union-attr]
    return fields, (f"INSERT INTO {quote(Payment._meta.db_table)} ({columns}) SELECT {placeholders} "  # noqa: S608 - names only
                    f"FROM {quote(Order._meta.db_table)} o WHERE o.{order_pk} = %s AND o.{order_status} = %s "
                    f"FOR SHARE OF o RETURNING {quote(Payment._meta.pk.column)}")  # type: ignore[union-attr]


@cache
def _update_sql() -> tuple[tuple[Any, ...], str]:
    fields = tuple(Payment._meta.get_field(name) for name in _STORED)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s::{f.db_type(connection)}" for f in fields)  # type: ignore[union-attr, arg-type]
    return fields, (f"UPDATE {quote(Payment._meta.db_table)} SET {assignments} "  # noqa: S608 - names only
                    f"WHERE {quote(Payment._meta.pk.column)} = %s AND {quote(Payment._meta.get_field('status').column)} = %s")  # type: ignore[union-attr]


def _insert_while_order_pending(payment: Payment) -> bool:
    """INSERT the attempt only while its order is pending payment, in one statement that takes a
    share lock on the order row. A cancel (or expiry) holding the order's lock makes it wait and
    then see the order closed; an attempt inserted first is seen by the cancel's re-check under
    that lock (`payments_close_for_order_locked`). Sets the row's id. Returns False if not inserted."""
    fields, sql = _insert_sql()
    values = [f.get_db_prep_save(f.pre_save(payment, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, payment.order_id, OrderStatus.PENDING_PAYMENT])
        row = cursor.fetchone()
    if row is None:
        return False
    payment.pk = row[0]
    payment._state.adding = False
    payment._state.db = connection.alias
    return True


def _store_provider_result(payment: Payment) -> bool:
    """Write the provider's answer (reference, client secret, status, updated_at as set on
    `payment`) only while the row is still `created`, in one UPDATE. Returns False when it no
    longer was (the order's cancel closed it meanwhile)."""
    fields, sql = _update_sql()
    values = [f.get_db_prep_save(getattr(payment, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, payment.pk, PaymentStatus.CREATED])
        return bool(cursor.rowcount)


def _order_closed(order: Order) -> Exception:
    from marketplace.errors import InvalidState

    status = Order.objects.values_list("status", flat=True).get(pk=order.pk)
    return InvalidState(_("Order %(number)s is %(status)s; there is nothing to pay.")
                        % {"number": order.number, "status": OrderStatus(status).label})


def _cancel_orphan(*, payment_id: int, reference: str) -> None:
    """An attempt created at the provider after the order's cancel closed it: keep its reference
    (a stray success then finds it and is refunded) and cancel it. Best effort: its client
    secret was never handed out, so nobody can pay it."""
    payment = Payment.objects.get(pk=payment_id)
    Payment.objects.filter(pk=payment_id, provider_reference__isnull=True).update(provider_reference=reference)
    try:
        get_provider(payment.provider).cancel_payment(payment_id=payment_id, reference=reference, reason="abandoned")
    except PaymentProviderError:
        logger.warning("payment_orphan_cancel_failed", payment_id=payment_id, exc_info=True)


def payment_get_or_create_for_order(*, order: Order) -> Payment:
    """The order's open payment with a client secret, or a new attempt if there is none.

    Idempotent while an open attempt exists. Raises PaymentProviderError like
    `payment_create_for_order`.
    """
    current = Payment.objects.filter(order=order, status__in=OPEN_STATUSES).exclude(client_secret="").order_by("-attempt").first()
    if current is not None:
        return current
    return payment_create_for_order(order=order)


def payment_try_create_for_order(*, order: Order, attempt: int | None = None) -> Payment | None:
    """`payment_create_for_order`, but a provider failure is logged and answered with None: the
    order and its hold stand, and the shopper retries through POST /orders/{id}/payment. An order
    cancelled meanwhile gets no payment either (None)."""
    from marketplace.errors import InvalidState

    try:
        return payment_create_for_order(order=order, attempt=attempt)
    except PaymentProviderError:
        logger.warning("payment_create_failed", order_id=str(order.pk), exc_info=True)
        return None
    except InvalidState:
        logger.info("payment_create_order_closed", order_id=str(order.pk))
        return None


def payment_sync(*, payment_id: int) -> str:
    """Re-read the payment from its provider and apply that state (see `payment_apply_state`).

    Must not run inside a transaction (the provider is called first). Raises PaymentProviderError
    if the provider cannot be read. Idempotent.
    """
    payment = Payment.objects.get(pk=payment_id)
    if not payment.provider_reference:
        return "no_reference"
    state = get_provider(payment.provider).retrieve_payment(reference=payment.provider_reference)
    return payment_apply_state(payment_id=payment_id, state=state)


def _void(*, order: Order, payment: Payment, amount: int, reason: str) -> Refund:
    """The payment bought nothing: refund it whole after commit and tell operators."""
    refund, _ = Refund.objects.get_or_create(
        payment=payment, kind=RefundKind.VOID,
        defaults={"order": order, "amount": amount, "currency": payment.currency, "reason": reason},
    )
    enqueue_on_commit("payments.refund_send", refund_id=refund.pk)
    raise_to_operators(reason=reason, dedupe_key=f"payment-void:{payment.pk}", order_id=order.pk, payment_id=payment.pk,
                       context={"order_number": order.number, "refund_id": refund.pk})
    return refund


def _paid(order: Order, payment: Payment, *, late: bool) -> None:

    payload = {"payment_id": payment.pk, "provider": payment.provider, "reference": payment.provider_reference}
    if late:
        order_services.order_mark_paid_late(order_id=order.pk, payload=payload)
    else:
        order_services.order_mark_paid(order_id=order.pk, payload=payload)
    # The voucher's funder pays the discount: its own ledger movement (apps/payments/services/subsidy.py).
    subsidy_record_for_order(order_id=order.pk, currency=payment.currency)
    # Fulfilment subscribes (after commit) and schedules itself; payouts are ours.
    events.emit("order.paid", order_id=str(order.pk), payment_id=payment.pk, late=late)
    enqueue_on_commit("payments.transfers_create", order_id=str(order.pk))


def payment_apply_state(*, payment_id: int, state: PaymentState, now: Any = None) -> str:
    """Bring a payment (and its order) in line with the provider's current state.

    Locks the order, then the payment (the fixed order every payments service uses), so a
    duplicate event, a late or out-of-order one, the reconciliation sweep and the shopper's own
    confirmation all serialise here and the second one finds the work done. On success, once per
    payment: the payment becomes succeeded, the capture is written to the ledger, and
    - a pending order becomes paid (holds sold) and "order.paid" is emitted (fulfilment schedules
      itself after commit); payouts are scheduled after commit;
    - a cancelled order stays cancelled (the shopper was told so; its cancel cancelled the
      provider's payment first, so this is a provider race): refunded automatically and raised;
    - an expired order re-claims its inventory and becomes paid if all of it is still free;
      otherwise the payment is refunded automatically and raised to operators;
    - an order paid already (another attempt) or otherwise closed: refunded and raised likewise.
    A failure or cancellation only marks the payment: the order stays payable until it expires.
    Returns a short outcome label. Idempotent.
    """
    from marketplace.errors import LimitExceeded, SlotFull, SoldOut

    now = now or timezone.now()
    with transaction.atomic():
        order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == PaymentStatus.SUCCEEDED:
            return "already_succeeded"
        if state.status != PaymentStatus.SUCCEEDED:
            failure_message = state.failure_message or payment.failure_message
            if payment.status != state.status:
                transition(payment, locked=True, name="apply_provider_state", to=state.status,
                           allowed_from=[s for s in PaymentStatus if s != PaymentStatus.SUCCEEDED],
                           also={"failure_message": failure_message}, payload={"failure_message": state.failure_message})
            elif state.failure_message and not payment.failure_message:
                payment.failure_message = failure_message
                payment.save(update_fields=["failure_message", "updated_at"])
            return state.status
        transition(payment, locked=True, name="succeed", to=PaymentStatus.SUCCEEDED,
                   allowed_from=[s for s in PaymentStatus if s != PaymentStatus.SUCCEEDED],
                   also={"charge_reference": state.charge_reference, "succeeded_at": now},
                   payload={"amount": state.amount, "currency": state.currency})
        ledger_write(key=f"capture:{payment.pk}", kind="capture", order_id=order.pk, amount=state.amount,
                     currency=state.currency)
        if state.amount != payment.amount or state.currency != payment.currency:
            _void(order=order, payment=payment, amount=state.amount,
                  reason=f"Captured {state.amount} {state.currency}, expected {payment.amount} {payment.currency}.")
            return "voided_mismatch"
        if order.status == OrderStatus.PENDING_PAYMENT:
            _paid(order, payment, late=False)
            return "paid"
        if order.status == OrderStatus.CANCELLED:
            _void(order=order, payment=payment, amount=state.amount,
                  reason=f"Payment arrived for cancelled order {order.number}; the shopper was told it is cancelled. "
                         "Refunded automatically.")
            return "voided_cancelled"
        if order.status == OrderStatus.EXPIRED:
            try:
                with transaction.atomic():
                    _paid(order, payment, late=True)
                return "paid_late"
            except (SoldOut, SlotFull, LimitExceeded, VoucherNotApplicable) as exc:
                _void(order=order, payment=payment, amount=state.amount,
                      reason=f"Payment arrived for {order.status} order {order.number}; inventory gone ({exc.detail}). "
                             "Refunded automatically.")
                return "voided_inventory_gone"
        _void(order=order, payment=payment, amount=state.amount,
              reason=f"Second payment for order {order.number} ({order.status}); refunded automatically.")
        return "voided_duplicate"


def payment_paying_order(*, order_id: Any) -> Payment | None:
    """The succeeded payment that bought the order (not a voided one), if any."""
    return (Payment.objects.filter(order_id=order_id, status=PaymentStatus.SUCCEEDED)
            .exclude(refunds__kind=RefundKind.VOID).order_by("succeeded_at", "pk").first())


def payment_simulate(*, order: Order, outcome: str) -> Payment:
    """The simulated provider's stand-in for the shopper paying: store a simulated event for the
    order's open payment in the webhook inbox and enqueue its processing, exactly like a Stripe
    webhook. Raises NotFound unless the simulated provider is active, InvalidState unless the
    order is pending payment, ValidationFailed for an unknown outcome. Idempotent per (payment,
    outcome). Not inside a transaction (may create the payment attempt)."""
    from apps.payments.providers import configured_provider_name
    from apps.payments.services.webhooks import webhook_record_simulated
    from marketplace.errors import InvalidState, NotFound, ValidationFailed

    if configured_provider_name() != "simulated":
        raise NotFound()
    if outcome not in ("succeeded", "failed"):
        raise ValidationFailed(_("outcome must be 'succeeded' or 'failed'."), attr="outcome")
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise InvalidState(_("Order %(number)s is %(status)s; there is nothing to pay.")
                           % {"number": order.number, "status": order.get_status_display()})
    payment = payment_get_or_create_for_order(order=order)
    if payment.provider != "simulated":
        payment = payment_create_for_order(order=order)
    if webhook_record_simulated(payment=payment, outcome=outcome) is None and payment.provider_reference:
        # A duplicate, or refused: the payment was cancelled first (the order's cancel), as a
        # Stripe confirmation of a cancelled PaymentIntent is refused.
        state = get_provider("simulated").retrieve_payment(reference=payment.provider_reference)
        if state.status == PaymentStatus.CANCELLED:
            raise InvalidState(_("This payment was cancelled; there is nothing to pay."))
    return payment


__all__ = ["RefundStatus", "payment_apply_state", "payment_create_for_order", "payment_get_or_create_for_order",
           "payment_paying_order", "payment_simulate", "payment_sync", "payment_try_create_for_order"]
