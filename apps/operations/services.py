"""Operator actions on queue items, run from the console.

Each action calls the owning app's service (orders, fulfilment, payments, notifications) with
the operator as the actor, so the item's own audit trail records who did it (an OrderEvent for an
order). `operator_action_run` adds the console's guarantee on top: a button's one-time key is
claimed by a unique row before anything runs, so a double click or a resubmitted form replays the
first outcome instead of acting twice. The services are idempotent as well; the key only keeps
the action log free of duplicates and spares a second round-trip to a provider.

An action whose owning service does not exist yet is not registered (not offered, not faked).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.fulfilment.services import fulfilment_retry
from apps.operations.models import ActionOutcome, OperatorAction
from apps.payments.models import Transfer, TransferStatus
from apps.payments.services.orders import order_cancel_with_payment
from apps.payments.services.payouts import payouts_settle_order, transfer_send
from apps.payments.services.refunds import refund_remaining, refund_send
from apps.payments.services.webhooks import webhook_replay
from marketplace.errors import DomainError, InvalidState, NotFound
from marketplace.money import format_money

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ActionDef:
    name: str
    label: str | Promise
    target_type: str
    run: Callable[..., str]  # (target_id=..., actor=...) -> what happened, for the log
    confirm: str | Promise = ""


# --- The actions ---------------------------------------------------------------------------------


def _order_cancel(*, target_id: str, actor: Any) -> str:

    order = order_cancel_with_payment(order_id=_uuid(target_id), actor=actor, note="cancelled by an operator (console)")
    return gettext("Order %(number)s is %(status)s.") % {"number": order.number,
                                                         "status": str(order.get_status_display()).lower()}


def _fulfilment_retry(*, target_id: str, actor: Any) -> str:

    # fulfilment_retry guards the state (unknown: NotFound; not paid: InvalidState) and writes the trail.
    fulfilment_retry(order_id=_uuid(target_id), actor=actor)
    return gettext("Fulfilment re-enqueued.")


def _order_refund(*, target_id: str, actor: Any) -> str:

    # Records the refund with the actor and moves the order (OrderEvent) once the provider
    # confirms; a second click finds nothing left to refund and is refused.
    refund = refund_remaining(order_id=_uuid(target_id), actor=actor, reason="refunded from the operations console")
    return gettext("Refund %(id)s of %(amount)s: %(status)s.") % {
        "id": refund.pk, "amount": format_money(refund.amount, refund.currency),
        "status": str(refund.get_status_display()).lower()}


def _refund_retry(*, target_id: str, actor: Any) -> str:

    return gettext("Refund %(id)s: %(status)s.") % {"id": target_id, "status": refund_send(refund_id=_int(target_id))}


def _payout_retry(*, target_id: str, actor: Any) -> str:

    transfer = Transfer.objects.filter(pk=_int(target_id)).values("status", "order_id").first()
    if transfer is None:
        raise NotFound()
    if transfer["status"] == TransferStatus.SENDING:
        # Provider answer unknown: resend under the same idempotency key (the transfer id).
        return gettext("Transfer %(id)s: %(status)s.") % {"id": target_id,
                                                          "status": transfer_send(transfer_id=_int(target_id))}
    if transfer["status"] == TransferStatus.FAILED:
        raise InvalidState(_("The provider refused this transfer; fix the exhibitor's payout account, "
                             "then settle the order again from the payments admin."))
    # pending / awaiting an account: settling sizes and sends what is due now (idempotent).
    sent = payouts_settle_order(order_id=transfer["order_id"])
    return gettext("Payouts of the order settled: %(count)d transfer(s) sent.") % {"count": sent["transfers"]}


def _webhook_replay(*, target_id: str, actor: Any) -> str:

    webhook_replay(event_pk=_int(target_id))
    return gettext("Event queued for processing again.")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise NotFound() from exc


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound() from exc


def action_definitions() -> dict[str, ActionDef]:
    """Every action the console offers, by name."""
    actions = [
        ActionDef("order_cancel", _("Cancel"), "orders.order", _order_cancel,
                  confirm=_("Cancel this unpaid order and release its hold?")),
    ]
    if _importable("apps.fulfilment.services", "fulfilment_retry"):
        actions.append(ActionDef("fulfilment_retry", _("Retry fulfilment"), "orders.order", _fulfilment_retry))
    if _importable("apps.payments.services.refunds", "refund_remaining"):
        actions += [
            ActionDef("order_refund", _("Refund"), "orders.order", _order_refund,
                      confirm=_("Refund everything left on this order to the shopper?")),
            ActionDef("refund_retry", _("Retry refund"), "payments.refund", _refund_retry),
        ]
    if _importable("apps.payments.services.payouts", "transfer_send"):
        actions.append(ActionDef("payout_retry", _("Retry payout"), "payments.transfer", _payout_retry))
    if _importable("apps.payments.services.webhooks", "webhook_replay"):
        actions.append(ActionDef("webhook_replay", _("Replay"), "payments.webhookevent", _webhook_replay))
    return {action.name: action for action in actions}


def _importable(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


# --- Running one -----------------------------------------------------------------------------------


def operator_action_run(*, key: uuid.UUID, action: str, target_id: str, actor: Any) -> OperatorAction:
    """Run console action `action` on `target_id` as `actor`, once per `key`.

    Preconditions: `actor` is an operator (the view checks). Raises NotFound for an unknown
    action. A domain refusal (wrong state, unknown item) is recorded as `refused` with its message
    and not raised. Idempotent per key: a second call returns the first call's row untouched
    (still `running` if the first is in progress) without running the action again.
    """
    definition = action_definitions().get(action)
    if definition is None:
        raise NotFound(f"Unknown action {action!r}.")
    try:
        with transaction.atomic():
            record = OperatorAction.objects.create(key=key, action=action, target_type=definition.target_type,
                                                   target_id=str(target_id)[:64], actor=actor)
    except IntegrityError:
        existing = OperatorAction.objects.get(key=key)
        logger.info("operator_action_replayed", key=str(key), action=existing.action)
        return existing
    try:
        detail = definition.run(target_id=target_id, actor=actor)
        outcome = ActionOutcome.DONE
    except DomainError as exc:
        detail, outcome = str(exc.detail), ActionOutcome.REFUSED
    except Exception as exc:
        OperatorAction.objects.filter(pk=record.pk).update(outcome=ActionOutcome.REFUSED, detail=f"error: {exc}"[:500])
        raise
    OperatorAction.objects.filter(pk=record.pk).update(outcome=outcome, detail=str(detail)[:500])
    record.outcome, record.detail = outcome, str(detail)[:500]
    logger.info("operator_action", action=action, target=str(target_id), outcome=str(outcome), actor=getattr(actor, "pk", None))
    return record
