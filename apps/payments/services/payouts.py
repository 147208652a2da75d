"""Exhibitor payouts through Stripe Connect: onboarding, one transfer per exhibitor per order,
and reversals when refunds take sales back.

`payouts_settle_order` converges an order's payouts on what is due, whatever happened before:
due to an exhibitor = its lines' total − its share of succeeded refunds; commission =
round-half-up(due × commission_bps / 10000); transfer = due − commission. A transfer not yet
sent is sized when it is sent; a sent one is corrected by a reversal of the difference (and the
commission given back with it). Rows are claimed in short transactions and the provider is called
after commit with the row id as idempotency key, so a crash or a concurrent run never pays twice.
"""

from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from apps.exhibitors.models import Exhibitor
from apps.orders.models import OrderLine
from apps.payments.models import (
    ConnectAccount,
    ConnectStatus,
    Payment,
    Refund,
    RefundAllocation,
    RefundKind,
    RefundStatus,
    Transfer,
    TransferReversal,
    TransferStatus,
)
from apps.payments.providers import PaymentProviderError, configured_provider_name, get_provider
from apps.payments.services.common import commission_of, ledger_write, raise_to_operators
from marketplace.tasks import enqueue_on_commit
from marketplace.transitions import record_transition, transition

logger = structlog.get_logger(__name__)

OPEN_TRANSFER = (TransferStatus.PENDING, TransferStatus.AWAITING_ACCOUNT)


# --- Connect onboarding ----------------------------------------------------------------------------


def connect_onboarding_start(*, exhibitor_id: int, actor: Any = None) -> ConnectAccount:
    """Create the exhibitor's Express account (once) and a fresh onboarding link to hand over.

    Not inside a transaction (the provider is called). The account creation is idempotent on the
    exhibitor id; each call numbers a new link. Raises PaymentProviderError.
    """

    exhibitor = Exhibitor.objects.get(pk=exhibitor_id)
    account = ConnectAccount.objects.filter(exhibitor=exhibitor).first()
    provider = get_provider(account.provider if account else configured_provider_name())
    if account is None:
        reference = provider.create_account(exhibitor_id=exhibitor.pk, email=exhibitor.contact_email, country="")
        try:
            account = ConnectAccount.objects.create(exhibitor=exhibitor, provider=provider.name,
                                                    account_reference=reference)
        except IntegrityError:  # a concurrent call created it (same reference: idempotent creation)
            account = ConnectAccount.objects.get(exhibitor=exhibitor)
    with transaction.atomic():
        account = ConnectAccount.objects.select_for_update().get(pk=account.pk)
        account.links_created += 1
        account.save(update_fields=["links_created", "updated_at"])
        attempt = account.links_created
    url = provider.create_account_link(account_reference=account.account_reference, exhibitor_id=exhibitor.pk,
                                       attempt=attempt)
    ConnectAccount.objects.filter(pk=account.pk).update(onboarding_url=url, updated_at=timezone.now())
    logger.info("connect_onboarding_started", exhibitor_id=exhibitor.pk, account=account.account_reference)
    connect_account_sync(account_id=account.pk)
    account.refresh_from_db()
    return account


def connect_account_sync(*, account_id: int, settle_now: bool = False, actor: Any = None) -> str:
    """Re-read the account; when payouts become enabled, settle that exhibitor's waiting payouts:
    enqueued (one task per order) or, with `settle_now`, here and now (after the status commits).
    A status change writes its audit row. Not inside a transaction. Idempotent. Raises
    PaymentProviderError."""
    account = ConnectAccount.objects.get(pk=account_id)
    state = get_provider(account.provider).retrieve_account(reference=account.account_reference)
    status = (ConnectStatus.ENABLED if state.payouts_enabled
              else ConnectStatus.RESTRICTED if state.details_submitted else ConnectStatus.PENDING)
    with transaction.atomic():
        changed = ConnectAccount.objects.filter(pk=account.pk).exclude(status=status).update(status=status,
                                                                                            updated_at=timezone.now())
        if changed:
            record_transition(ConnectAccount, account.pk, name="sync", from_state=account.status, to_state=status,
                              actor=actor, payload={"payouts_enabled": state.payouts_enabled,
                                                    "details_submitted": state.details_submitted})
        if changed and status == ConnectStatus.ENABLED and not settle_now:
            for order_id in _waiting_order_ids(account.exhibitor_id):
                enqueue_on_commit("payments.transfers_create", order_id=str(order_id))
    if changed and status == ConnectStatus.ENABLED and settle_now:
        payouts_settle_exhibitor(exhibitor_id=account.exhibitor_id)
    logger.info("connect_account_synced", account=account.account_reference, status=str(status), changed=bool(changed))
    return str(status)


def connect_simulated_onboarding_complete(*, account_id: int, actor: Any = None) -> ConnectAccount:
    """The exhibitor finished the simulated onboarding page: record it, enable payouts and send
    that exhibitor's waiting payouts at once, so a demo runs end to end without a worker.

    The completion is stored as a simulated `account.updated` event in the webhook inbox (one per
    account: the provider keeps no memory of its own and reads that row, as Stripe reports what
    the exhibitor did on its hosted page), then the account is re-read as for a real event.
    Raises InvalidState for an account of another provider. Not inside a transaction (payouts are
    sent). Idempotent: completing twice records one event and pays nothing twice.
    """
    from django.utils.translation import gettext

    from apps.payments.models import WebhookEvent, WebhookStatus
    from apps.payments.providers.simulated import ACCOUNT_EVENT, account_onboarded_event_id
    from marketplace.errors import InvalidState

    account = ConnectAccount.objects.get(pk=account_id)
    if account.provider != "simulated":
        raise InvalidState(gettext("Only a simulated payout account is onboarded here; "
                                   "this one is onboarded at Stripe."))
    event_id = account_onboarded_event_id(account.account_reference)
    now = timezone.now()
    WebhookEvent.objects.bulk_create([WebhookEvent(
        provider="simulated", event_id=event_id, type=ACCOUNT_EVENT, object_reference=account.account_reference,
        payload={"id": event_id, "object": "event", "type": ACCOUNT_EVENT,
                 "data": {"object": {"id": account.account_reference, "object": "account", "payouts_enabled": True,
                                     "details_submitted": True,
                                     "metadata": {"exhibitor_id": str(account.exhibitor_id),
                                                  "completed_by": str(getattr(actor, "pk", "") or "")}}}},
        status=WebhookStatus.PROCESSED, attempts=1, processed_at=now,
    )], ignore_conflicts=True)
    logger.info("connect_simulated_onboarding_completed", account=account.account_reference,
                actor_id=getattr(actor, "pk", None))
    connect_account_sync(account_id=account.pk, settle_now=True, actor=actor)
    account.refresh_from_db()
    return account


def _waiting_order_ids(exhibitor_id: int) -> list[Any]:
    return list(Transfer.objects.filter(exhibitor_id=exhibitor_id, status__in=OPEN_TRANSFER)
                .order_by("order_id").values_list("order_id", flat=True).distinct())


def payouts_settle_exhibitor(*, exhibitor_id: int) -> dict[str, int]:
    """Settle every order in which this exhibitor has a payout waiting (pending or awaiting its
    account), one order at a time. Not inside a transaction. Idempotent; returns the sums of
    `payouts_settle_order`'s counts."""
    done = {"orders": 0, "transfers": 0, "reversals": 0}
    for order_id in _waiting_order_ids(exhibitor_id):
        counts = payouts_settle_order(order_id=order_id)
        done["orders"] += 1
        done["transfers"] += counts["transfers"]
        done["reversals"] += counts["reversals"]
    return done


# --- Transfers -------------------------------------------------------------------------------------


def _due(order_id: Any, exhibitor_id: int, bps: int) -> tuple[int, int]:
    """(gross due, commission) for an exhibitor's lines of an order, after succeeded refunds."""

    gross = OrderLine.objects.filter(order_id=order_id, exhibitor_id=exhibitor_id).aggregate(t=Sum("total"))["t"] or 0
    refunded = (RefundAllocation.objects.filter(refund__order_id=order_id, refund__kind=RefundKind.ORDER,
                                                refund__status=RefundStatus.SUCCEEDED, exhibitor_id=exhibitor_id)
                .aggregate(t=Sum("amount"))["t"] or 0)
    due = max(gross - refunded, 0)
    return due, commission_of(due, bps)


def payouts_settle_order(*, order_id: Any) -> dict[str, int]:
    """Create, size, send and correct the order's transfers so each exhibitor holds what is due.

    Preconditions: not inside a transaction. Does nothing until the order has a captured paying
    payment. Transfers wait (awaiting_account) for exhibitors without an enabled Connect account.
    Returns counts of provider calls made. Idempotent; safe to run concurrently.
    """
    from apps.payments.services.payments import payment_paying_order

    payment = payment_paying_order(order_id=order_id)
    if payment is None:
        return {"transfers": 0, "reversals": 0}
    exhibitor_ids = sorted(set(OrderLine.objects.filter(order_id=order_id).values_list("exhibitor_id", flat=True)))
    to_send: list[int] = []
    reversals: list[int] = []
    for exhibitor_id in exhibitor_ids:
        exhibitor = Exhibitor.objects.get(pk=exhibitor_id)
        with transaction.atomic():
            Transfer.objects.bulk_create(
                [Transfer(order_id=order_id, exhibitor_id=exhibitor_id, payment=payment, currency=payment.currency)],
                ignore_conflicts=True,
            )
            transfer = Transfer.objects.select_for_update().get(order_id=order_id, exhibitor_id=exhibitor_id)
            due, commission = _due(order_id, exhibitor_id, exhibitor.commission_bps)
            if transfer.status in OPEN_TRANSFER:
                account = ConnectAccount.objects.filter(exhibitor_id=exhibitor_id, status=ConnectStatus.ENABLED).first()
                sizes: dict[str, Any] = {}
                if due <= 0:
                    target = TransferStatus.NOTHING_DUE
                elif account is None:
                    target = TransferStatus.AWAITING_ACCOUNT
                else:
                    sizes = {"gross": due, "commission": commission, "amount": due - commission,
                             "destination": account.account_reference}
                    target = TransferStatus.SENDING
                    to_send.append(transfer.pk)
                # Waiting again (awaiting_account → awaiting_account) is the helper's logged no-op.
                transition(transfer, locked=True, name="settle", to=target, allowed_from=OPEN_TRANSFER, also=sizes,
                           payload={"due": due, "commission": commission})
            elif transfer.status in (TransferStatus.SENDING, TransferStatus.SENT):
                reversal = _claim_reversal(transfer, due, commission)
                if reversal is not None:
                    reversals.append(reversal)
    sent = sum(1 for transfer_id in to_send if transfer_send(transfer_id=transfer_id) == TransferStatus.SENT)
    reversed_ = sum(1 for reversal_id in reversals if reversal_send(reversal_id=reversal_id) == TransferStatus.SENT)
    return {"transfers": sent, "reversals": reversed_}


def _claim_reversal(transfer: Transfer, due: int, commission: int) -> int | None:
    """Under the transfer's lock: the reversal that brings it down to `due`, if one is needed."""
    taken = transfer.reversals.exclude(status=TransferStatus.FAILED).aggregate(
        amount=Sum("amount"), commission=Sum("commission_returned"))
    net_now = transfer.amount - (taken["amount"] or 0)
    commission_now = transfer.commission - (taken["commission"] or 0)
    net_due = due - commission
    if net_now <= net_due and commission_now <= commission:
        return None
    refund = (Refund.objects.filter(order_id=transfer.order_id, status=RefundStatus.SUCCEEDED, kind=RefundKind.ORDER,
                                    allocations__exhibitor_id=transfer.exhibitor_id)
              .exclude(reversals__transfer=transfer).order_by("-pk").first())
    if refund is None:
        return None
    reversal = TransferReversal.objects.create(transfer=transfer, refund=refund, amount=max(net_now - net_due, 0),
                                               commission_returned=max(commission_now - commission, 0))
    return reversal.pk


def transfer_send(*, transfer_id: int) -> str:
    """Send a claimed (`sending`) transfer: amount to the exhibitor's account, `transfer_group` =
    the order id, `source_transaction` = the charge. Not inside a transaction. Idempotent on the
    transfer id; an outage leaves it `sending` for the reconciliation sweep."""
    transfer = Transfer.objects.select_related("payment").get(pk=transfer_id)
    if transfer.status != TransferStatus.SENDING:
        return str(transfer.status)
    reference = None
    if transfer.amount > 0:
        try:
            result = get_provider(transfer.payment.provider).create_transfer(
                transfer_id=transfer.pk, amount=transfer.amount, currency=transfer.currency,
                destination=transfer.destination, transfer_group=str(transfer.order_id),
                source_transaction=transfer.payment.charge_reference, attempt=transfer.attempt,
            )
            reference = result.reference
        except PaymentProviderError as exc:
            if exc.retryable:
                logger.warning("transfer_send_unknown", transfer_id=transfer_id, error=str(exc))
                return TransferStatus.SENDING
            with transaction.atomic():
                if Transfer.objects.filter(pk=transfer_id, status=TransferStatus.SENDING).update(
                        status=TransferStatus.FAILED, failure_message=str(exc)[:500], updated_at=timezone.now()):
                    record_transition(Transfer, transfer_id, name="fail", from_state=TransferStatus.SENDING,
                                      to_state=TransferStatus.FAILED, reason="refused by the provider",
                                      payload={"error": str(exc)[:500]})
            raise_to_operators(reason=f"Transfer {transfer_id} failed: {exc}", dedupe_key=f"transfer-failed:{transfer_id}",
                               order_id=transfer.order_id, payment_id=transfer.payment_id)
            return TransferStatus.FAILED
    with transaction.atomic():
        transfer = Transfer.objects.select_for_update().get(pk=transfer_id)
        if transfer.status != TransferStatus.SENDING:
            return str(transfer.status)
        transition(transfer, locked=True, name="send", to=TransferStatus.SENT, allowed_from=[TransferStatus.SENDING],
                   also={"provider_reference": reference}, payload={"reference": reference, "amount": transfer.amount})
        ledger_write(key=f"transfer:{transfer.pk}", kind="transfer", order_id=transfer.order_id, amount=transfer.amount,
                     currency=transfer.currency, exhibitor_id=transfer.exhibitor_id)
        ledger_write(key=f"commission:{transfer.pk}", kind="commission", order_id=transfer.order_id,
                     amount=transfer.commission, currency=transfer.currency, exhibitor_id=transfer.exhibitor_id)
    for reversal_id in transfer.reversals.filter(status=TransferStatus.PENDING).values_list("pk", flat=True):
        reversal_send(reversal_id=reversal_id)
    return TransferStatus.SENT


def reversal_send(*, reversal_id: int) -> str:
    """Send a pending reversal once its transfer is sent. Not inside a transaction. Idempotent on
    the reversal id; an outage leaves it pending for the reconciliation sweep."""
    reversal = TransferReversal.objects.select_related("transfer__payment").get(pk=reversal_id)
    transfer = reversal.transfer
    if reversal.status != TransferStatus.PENDING or transfer.status != TransferStatus.SENT:
        return str(reversal.status)
    reference = None
    if reversal.amount > 0:
        try:
            reference = get_provider(transfer.payment.provider).create_transfer_reversal(
                reversal_id=reversal.pk, transfer_reference=transfer.provider_reference or "", amount=reversal.amount,
                attempt=reversal.attempt,
            ).reference
        except PaymentProviderError as exc:
            if exc.retryable:
                return TransferStatus.PENDING
            with transaction.atomic():
                if TransferReversal.objects.filter(pk=reversal_id, status=TransferStatus.PENDING).update(
                        status=TransferStatus.FAILED, failure_message=str(exc)[:500], updated_at=timezone.now()):
                    record_transition(TransferReversal, reversal_id, name="fail", from_state=TransferStatus.PENDING,
                                      to_state=TransferStatus.FAILED, reason="refused by the provider",
                                      payload={"error": str(exc)[:500]})
            raise_to_operators(reason=f"Transfer reversal {reversal_id} failed: {exc}",
                               dedupe_key=f"reversal-failed:{reversal_id}", order_id=transfer.order_id,
                               payment_id=transfer.payment_id)
            return TransferStatus.FAILED
    with transaction.atomic():
        reversal = TransferReversal.objects.select_for_update().get(pk=reversal_id)
        if reversal.status != TransferStatus.PENDING:
            return str(reversal.status)
        transition(reversal, locked=True, name="send", to=TransferStatus.SENT, allowed_from=[TransferStatus.PENDING],
                   also={"provider_reference": reference}, payload={"reference": reference, "amount": reversal.amount})
        ledger_write(key=f"transfer_reversal:{reversal.pk}", kind="transfer_reversal", order_id=transfer.order_id,
                     amount=reversal.amount, currency=transfer.currency, exhibitor_id=transfer.exhibitor_id)
        ledger_write(key=f"commission_returned:{reversal.pk}", kind="commission", order_id=transfer.order_id,
                     amount=-reversal.commission_returned, currency=transfer.currency, exhibitor_id=transfer.exhibitor_id)
    return TransferStatus.SENT


# --- Operators' retries ----------------------------------------------------------------------------


def transfer_retry(*, transfer_id: int, actor: Any = None) -> str:
    """An operator asks a payout to go again. Awaiting/pending: settle its order now (it goes if
    the account is enabled, else keeps waiting); sending: send again with the same idempotency
    key (never pays twice); failed: reopen it as the next attempt (new key) and settle its order, which re-sizes it from what is
    due now. Sent or nothing due: nothing to do. Not inside a transaction. Returns the new status.
    """
    transfer = Transfer.objects.get(pk=transfer_id)
    if transfer.status == TransferStatus.SENDING:
        return transfer_send(transfer_id=transfer_id)
    if transfer.status == TransferStatus.FAILED:
        # The provider refused the last attempt definitely (nothing was created there): the next
        # one needs a new idempotency key, or the provider would replay the stored refusal.
        with transaction.atomic():
            reopened = Transfer.objects.filter(pk=transfer_id, status=TransferStatus.FAILED).update(
                status=TransferStatus.PENDING, failure_message="", attempt=F("attempt") + 1, updated_at=timezone.now())
            if reopened:
                record_transition(Transfer, transfer_id, name="retry", from_state=TransferStatus.FAILED,
                                  to_state=TransferStatus.PENDING, actor=actor, reason="retried by an operator")
        if reopened:
            logger.info("transfer_reopened", transfer_id=transfer_id, actor_id=getattr(actor, "pk", None))
    if transfer.status in (*OPEN_TRANSFER, TransferStatus.FAILED):
        payouts_settle_order(order_id=transfer.order_id)
    return str(Transfer.objects.values_list("status", flat=True).get(pk=transfer_id))


def reversal_retry(*, reversal_id: int, actor: Any = None) -> str:
    """An operator asks a failed or stuck reversal to go again (a stuck one under the same
    idempotency key, a refused one under the next attempt's).
    Not inside a transaction. Returns the new status."""
    with transaction.atomic():
        reopened = TransferReversal.objects.filter(pk=reversal_id, status=TransferStatus.FAILED).update(
            status=TransferStatus.PENDING, failure_message="", attempt=F("attempt") + 1, updated_at=timezone.now())
        if reopened:
            record_transition(TransferReversal, reversal_id, name="retry", from_state=TransferStatus.FAILED,
                              to_state=TransferStatus.PENDING, actor=actor, reason="retried by an operator")
    if reopened:
        logger.info("reversal_reopened", reversal_id=reversal_id, actor_id=getattr(actor, "pk", None))
    return reversal_send(reversal_id=reversal_id)


__all__ = ["Payment", "connect_account_sync", "connect_onboarding_start", "connect_simulated_onboarding_complete",
           "payouts_settle_exhibitor", "payouts_settle_order", "reversal_retry", "reversal_send", "transfer_retry",
           "transfer_send"]
