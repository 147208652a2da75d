"""Refunds: recorded in a short transaction, sent to the provider outside any transaction with
an idempotency key derived from the Refund id, then the outcome recorded in a second one.

Never more than captured: the paying payment's row is locked while the sum of its open and
succeeded refunds is checked, so two concurrent refunds cannot both pass the check.

An order bought with a voucher: the shopper gets back what they paid for the refunded part, the
exhibitors give back the goods' value (their allocations), and the difference goes back to the
voucher's funder (`RefundAllocation.subsidy`, negative `subsidy` ledger rows); see
apps/payments/services/subsidy.py. A full refund gives the voucher back when its campaign says so.
"""

from collections import defaultdict
from typing import Any

import structlog
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.orders import services as order_services
from apps.orders.models import REFUNDABLE, Order, OrderLine
from apps.payments.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundAllocation,
    RefundKind,
    RefundLine,
    RefundStatus,
)
from apps.payments.providers import PaymentProviderError, ProviderObject, get_provider
from apps.payments.services.common import ledger_write, raise_to_operators
from apps.payments.services.subsidy import subsidy_return_for_refund, subsidy_split_amount, subsidy_split_lines
from apps.vouchers import services as vouchers
from marketplace import events
from marketplace.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from marketplace.money import format_money
from marketplace.tasks import enqueue_on_commit
from marketplace.tenancy import exhibitor_ids_for, is_operator
from marketplace.transitions import transition

logger = structlog.get_logger(__name__)


def _allocate(amount: int, remaining: dict[int, int]) -> dict[int, int]:
    """Split `amount` over exhibitors in proportion to what each still has (largest remainder,
    ties by exhibitor id), never more than an exhibitor's remaining."""
    total = sum(remaining.values())
    shares = {eid: amount * rem // total for eid, rem in remaining.items()} if total else {}
    left = amount - sum(shares.values())
    order = sorted(remaining, key=lambda eid: (-(amount * remaining[eid] % total) if total else 0, eid))
    for eid in order:
        if left <= 0:
            break
        if shares[eid] < remaining[eid]:
            shares[eid] += 1
            left -= 1
    return {eid: share for eid, share in shares.items() if share > 0}


def refund_taken(*, payment_id: int) -> int:
    """What the refunds of a payment took or are taking (a failed refund gave its amount back)."""
    return (Refund.objects.filter(payment_id=payment_id).exclude(status=RefundStatus.FAILED)
            .aggregate(total=Sum("amount"))["total"] or 0)


def refund_lines_value(*, order_id: Any, lines: list[OrderLine],
                       chosen: list[OrderLine]) -> tuple[int, dict[int, int], dict[int, int]]:
    """Refunding the whole lines `chosen` of an order (whose lines are `lines`): what the shopper
    gets back, the goods each exhibitor gives back, and the subsidy of those returned to a
    voucher's funder (empty without a voucher): amount = goods − subsidy.

    A read, and the one rule: `refund_create` runs it under the order's lock, and the admin's
    refund confirmation page runs it to show the shopper's figure before anyone confirms.
    """
    goods: dict[int, int] = defaultdict(int)
    for line in chosen:
        goods[line.exhibitor_id] += line.total
    sold_by = {eid: sum(line.total for line in lines if line.exhibitor_id == eid) for eid in goods}
    subsidies = subsidy_split_lines(order_id=order_id, goods=dict(goods), gross=sold_by)
    return sum(goods.values()) - sum(subsidies.values()), dict(goods), subsidies


def _refunded_by_exhibitor(order_id: Any) -> dict[int, int]:
    rows = (RefundAllocation.objects.filter(refund__order_id=order_id, refund__kind=RefundKind.ORDER)
            .exclude(refund__status=RefundStatus.FAILED).values("exhibitor_id").annotate(total=Sum("amount")))
    return {row["exhibitor_id"]: row["total"] for row in rows}


def refund_create(*, order_id: Any, actor: Any, line_ids: list[int] | None = None, amount: int | None = None,
                  reason: str = "", send: bool = True) -> Refund:
    """Refund whole lines (`line_ids`) or an amount of a paid order, and send it to the provider.

    Operators may refund any lines or an amount; exhibitor staff only whole lines of their own
    exhibitors (other lines answer NotFound, an amount refund PermissionDenied). Raises
    InvalidState if the order is not paid/fulfilled/partially refunded, a line was refunded
    already, or the refund would exceed what was captured; ValidationFailed for bad input.
    Preconditions: not inside a transaction (the provider is called). Each call is a new refund;
    the provider call itself is idempotent on the refund id. Returns the refund (succeeded,
    pending if the provider's answer is unknown and will be retried, or failed).
    """

    if (line_ids is None) == (amount is None):
        raise ValidationFailed(_("Refund either lines or an amount."))
    if amount is not None and amount <= 0:
        raise ValidationFailed(_("The amount must be positive."), attr="amount")
    operator = actor is None or is_operator(actor)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in REFUNDABLE:
            raise InvalidState(_("Order %(number)s is %(status)s; only paid orders are refunded.")
                               % {"number": order.number, "status": order.get_status_display()})
        from apps.payments.services.payments import payment_paying_order

        paying = payment_paying_order(order_id=order.pk)
        if paying is None:
            raise InvalidState(_("Order %(number)s has no captured payment.") % {"number": order.number})
        payment = Payment.objects.select_for_update().get(pk=paying.pk)
        lines = list(order.lines.all())
        allocations: dict[int, int] = defaultdict(int)
        subsidies: dict[int, int] = {}
        chosen = []
        if line_ids is not None:
            wanted = set(line_ids)
            allowed = None if operator else exhibitor_ids_for(actor)
            chosen = [line for line in lines if line.pk in wanted and (allowed is None or line.exhibitor_id in allowed)]
            if not wanted or len(chosen) != len(wanted):
                raise NotFound(_("No such order line."))
            if RefundLine.objects.filter(line__in=chosen).exists():
                raise InvalidState(_("A line of this refund was refunded already."))
            amount, goods, subsidies = refund_lines_value(order_id=order.pk, lines=lines, chosen=chosen)
            allocations.update(goods)
            done = _refunded_by_exhibitor(order.pk)
            for eid, share in allocations.items():
                sold = sum(line.total for line in lines if line.exhibitor_id == eid)
                if done.get(eid, 0) + share > sold:
                    raise InvalidState(_("An earlier amount refund already took back part of these lines; "
                                         "refund what is left by amount."))
            if amount <= 0:
                raise InvalidState(_("The voucher paid for all of these lines; there is nothing to give back to the shopper."))
        else:
            if not operator:
                raise PermissionDenied(_("Only operators refund an amount; exhibitor staff refund their lines."))
            done = _refunded_by_exhibitor(order.pk)
            gross: dict[int, int] = defaultdict(int)
            for line in lines:
                gross[line.exhibitor_id] += line.total
            remaining = {eid: g - done.get(eid, 0) for eid, g in gross.items() if g - done.get(eid, 0) > 0}
            assert amount is not None
            split = subsidy_split_amount(order_id=order.pk, amount=amount, gross=dict(gross), allocate=_allocate)
            if split is not None:  # a voucher on the order: goods back from exhibitors, subsidy to the funder
                allocations.update(split[0])
                subsidies = split[1]
            elif amount > sum(remaining.values()):
                raise InvalidState(_("That is more than is left to refund on this order."))
            else:
                allocations.update(_allocate(amount, remaining))
        assert amount is not None
        taken = refund_taken(payment_id=payment.pk)
        if taken + amount > payment.amount:
            raise InvalidState(_("Refunds would exceed the %(captured)s captured (%(taken)s refunded or pending).") % {
                "captured": format_money(payment.amount, payment.currency), "taken": format_money(taken, payment.currency)})
        refund = Refund.objects.create(order=order, payment=payment, amount=amount, currency=payment.currency,
                                       reason=reason[:300], actor=actor if getattr(actor, "pk", None) else None)
        RefundLine.objects.bulk_create([RefundLine(refund=refund, line=line) for line in chosen])
        RefundAllocation.objects.bulk_create([RefundAllocation(refund=refund, exhibitor_id=eid, amount=share,
                                                               subsidy=subsidies.get(eid, 0))
                                              for eid, share in sorted(allocations.items())])
    logger.info("refund_created", refund_id=refund.pk, order_id=str(order.pk), amount=amount)
    if send:
        refund_send(refund_id=refund.pk)
        refund.refresh_from_db()
    return refund


def refund_send(*, refund_id: int) -> str:
    """Send a pending refund to the provider (idempotency key from the refund id) and record the
    outcome. Not inside a transaction. A provider outage leaves it pending for the reconciliation
    sweep (same key: no double refund); a definite refusal marks it failed. Idempotent."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING or refund.provider_reference:
        return str(refund.status)
    provider = get_provider(refund.payment.provider)
    try:
        result = provider.create_refund(refund_id=refund.pk, payment_reference=refund.payment.provider_reference or "",
                                        amount=refund.amount)
    except PaymentProviderError as exc:
        if exc.retryable:
            logger.warning("refund_send_unknown", refund_id=refund_id, error=str(exc))
            return RefundStatus.PENDING
        result = ProviderObject(reference="", status="failed", extra={"error": str(exc)})
    return refund_record_result(refund_id=refund_id, result=result)


def refund_sync(*, refund_id: int) -> str:
    """Re-read a refund with a provider reference and record its state. Not inside a transaction."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if not refund.provider_reference:
        return refund_send(refund_id=refund_id)
    result = get_provider(refund.payment.provider).retrieve_refund(reference=refund.provider_reference)
    return refund_record_result(refund_id=refund_id, result=result)


def refund_record_result(*, refund_id: int, result: ProviderObject) -> str:
    """Record the provider's answer. On success, once: the ledger, the order's refunded state
    (`order_mark_refunded`, for order refunds) and "refund.succeeded" (notifications writes the
    shopper's and exhibitors' messages in this transaction; fulfilment revokes the refunded lines
    after commit), all in one transaction; payouts are re-settled (transfer reversal) after commit. A failed
    refund frees its lines for another attempt. Idempotent."""

    with transaction.atomic():
        order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status != RefundStatus.PENDING:
            return str(refund.status)
        if result.status == "failed":
            transition(refund, locked=True, name="fail", to=RefundStatus.FAILED, allowed_from=[RefundStatus.PENDING],
                       reason="refused by the provider",
                       also={"failure_message": str(result.extra.get("error", "Refused by the provider."))[:500]})
            RefundLine.objects.filter(refund=refund).delete()
            raise_to_operators(reason=f"Refund {refund.pk} of order {order.number} failed: {refund.failure_message}",
                               dedupe_key=f"refund-failed:{refund.pk}", order_id=order.pk, payment_id=refund.payment_id)
            return RefundStatus.FAILED
        if result.reference and refund.provider_reference != result.reference:
            refund.provider_reference = result.reference
            refund.save(update_fields=["provider_reference", "updated_at"])
        if result.status != "succeeded":
            return RefundStatus.PENDING
        transition(refund, locked=True, name="succeed", to=RefundStatus.SUCCEEDED, allowed_from=[RefundStatus.PENDING],
                   also={"succeeded_at": timezone.now()}, payload={"provider_reference": refund.provider_reference})
        ledger_write(key=f"refund:{refund.pk}", kind="refund", order_id=order.pk, amount=refund.amount,
                     currency=refund.currency)
        subsidy_return_for_refund(refund_id=refund.pk, order_id=order.pk, currency=refund.currency,
                                  returned=dict(refund.allocations.filter(subsidy__gt=0).values_list("exhibitor_id", "subsidy")))
        if refund.kind == RefundKind.ORDER and order.status in REFUNDABLE:
            _order_refunded(order=order, refund=refund)
    if refund.kind == RefundKind.ORDER:
        enqueue_on_commit("payments.transfers_create", order_id=str(order_id))
    return RefundStatus.SUCCEEDED


def _order_refunded(*, order: Any, refund: Refund) -> None:

    refunded = (Refund.objects.filter(payment=refund.payment, kind=RefundKind.ORDER, status=RefundStatus.SUCCEEDED)
                .aggregate(total=Sum("amount"))["total"] or 0)
    full = refunded >= refund.payment.amount
    order_services.order_mark_refunded(order_id=order.pk, partial=not full, actor=refund.actor,
                                       payload={"refund_id": refund.pk, "amount": refund.amount})
    line_ids = list(RefundLine.objects.filter(refund=refund).values_list("line_id", flat=True))
    if full:
        line_ids = list(order.lines.values_list("id", flat=True))
        vouchers.voucher_after_full_refund(order_id=order.pk)  # the campaign's rule: the voucher may come back
    order_services.order_lines_release_quotas(order_id=order.pk, line_ids=line_ids)
    # Fulfilment revokes `line_ids` (after commit); notifications tells the shopper and each
    # exhibitor with a share of the refund (in this transaction).
    events.emit("refund.succeeded", refund_id=refund.pk, order_id=str(order.pk), line_ids=sorted(line_ids), full=full)


__all__ = ["PaymentStatus", "refund_create", "refund_lines_value", "refund_record_result", "refund_send", "refund_sync",
           "refund_taken"]


def refund_remaining(*, order_id: Any, actor: Any, reason: str = "") -> Refund:
    """Refund whatever is left of a paid order (operators). Raises like `refund_create`."""
    from apps.payments.services.payments import payment_paying_order

    payment = payment_paying_order(order_id=order_id)
    if payment is None:
        raise InvalidState(_("This order has no captured payment."))
    taken = refund_taken(payment_id=payment.pk)
    if payment.amount - taken <= 0:
        raise InvalidState(_("Nothing is left to refund."))
    return refund_create(order_id=order_id, actor=actor, amount=payment.amount - taken, reason=reason)
