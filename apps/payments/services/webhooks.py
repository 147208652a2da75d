"""The webhook inbox: store every accepted event raw (once per event id), then process it in a task.

Intake (`webhook_receive`, `webhook_record_simulated`) writes one row with
INSERT ... ON CONFLICT DO NOTHING on (provider, event_id) and enqueues processing after commit,
only for the delivery that inserted it; a duplicate is accepted and changes nothing.
Processing (`webhook_process`) never trusts the event body's state: it re-reads the object from
the provider and applies it through the locking services, so duplicates, reordering and a race
with the shopper's own confirmation all converge on the same result.
"""

from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.payments.models import ConnectAccount, Payment, Refund, WebhookEvent, WebhookStatus
from apps.payments.providers import PaymentProviderError, VerifiedEvent, get_provider
from apps.payments.providers.simulated import CANCELED_EVENT, FAILED_EVENT, SUCCEEDED_EVENT
from marketplace.tasks import enqueue_on_commit

logger = structlog.get_logger(__name__)

PAYMENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
                  "payment_intent.processing", "payment_intent.amount_capturable_updated")
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
ACCOUNT_EVENTS = ("account.updated",)


def _store(*, provider: str, event: VerifiedEvent) -> int | None:
    """Insert the event unless its id is known; enqueue processing after commit. Returns the new
    row's id, or None for a duplicate."""
    table = WebhookEvent._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {table} (provider, event_id, type, object_reference, payload, status, error, attempts,
                                         received_at)
                    VALUES (%s, %s, %s, %s, %s::jsonb, %s, '', 0, now())
                    ON CONFLICT (provider, event_id) DO NOTHING RETURNING id""",  # noqa: S608 - our table name only
                [provider, event.event_id, event.type[:100], event.object_reference[:255],
                 _json(event.payload), WebhookStatus.RECEIVED],
            )
            row = cursor.fetchone()
        if row is None:
            logger.info("webhook_duplicate", provider=provider, event_id=event.event_id)
            return None
        enqueue_on_commit("payments.webhook_process", event_pk=row[0])
    logger.info("webhook_received", provider=provider, event_id=event.event_id, type=event.type)
    return int(row[0])


def _json(payload: dict[str, Any]) -> str:
    import json

    return json.dumps(payload, separators=(",", ":"))


def webhook_receive(*, body: bytes, signature: str | None) -> int | None:
    """Verify a Stripe delivery and store it. Raises WebhookSignatureError (bad, missing, too old or
    future signature) or WebhookPayloadError (signed, but not an event with a string id and type)
    before anything is written or enqueued. Idempotent per event id."""
    event = get_provider("stripe").verify_webhook(body=body, signature=signature)
    return _store(provider="stripe", event=event)


SIMULATED_EVENTS = {"succeeded": SUCCEEDED_EVENT, "failed": FAILED_EVENT, "canceled": CANCELED_EVENT}


def webhook_record_simulated(*, payment: Payment, outcome: str) -> int | None:
    """The simulated provider's "webhook": a simulated event for the payment in the same inbox.

    `outcome` is "succeeded", "failed" or "canceled" (the provider's cancel). The event id is
    derived from the payment and the outcome, so simulating the same outcome twice is one event.
    Success and cancellation exclude each other, as at Stripe: under the payment row's lock, the
    one stored first wins and the other is not stored. Returns the new row's id, or None for a
    duplicate or an outcome refused that way. Must not run while the caller holds the order's lock
    (the payments services lock order, then payment)."""
    event_type = SIMULATED_EVENTS[outcome]
    reference = payment.provider_reference or ""
    with transaction.atomic():
        list(Payment.objects.select_for_update().filter(pk=payment.pk).values_list("pk", flat=True))
        if event_type != FAILED_EVENT:
            rival = CANCELED_EVENT if event_type == SUCCEEDED_EVENT else SUCCEEDED_EVENT
            if WebhookEvent.objects.filter(provider="simulated", object_reference=reference, type=rival).exists():
                logger.info("simulated_outcome_refused", payment_id=payment.pk, outcome=outcome, rival=rival)
                return None
        event = VerifiedEvent(
            event_id=f"sim_evt_{payment.pk}_{outcome}", type=event_type, object_reference=reference,
            payload={"id": f"sim_evt_{payment.pk}_{outcome}", "object": "event", "type": event_type,
                     "data": {"object": {"id": reference, "object": "payment_intent",
                                         "metadata": {"payment_id": str(payment.pk), "order_id": str(payment.order_id)}}}},
        )
        return _store(provider="simulated", event=event)


def _payment_for(event: WebhookEvent) -> Payment | None:
    payment = Payment.objects.filter(provider=event.provider, provider_reference=event.object_reference).first()
    if payment is None:
        # Our create call may have timed out after Stripe made the PaymentIntent: find it by metadata.
        metadata = ((event.payload.get("data") or {}).get("object") or {}).get("metadata") or {}
        payment_id = str(metadata.get("payment_id", ""))
        if payment_id.isdigit():
            payment = Payment.objects.filter(pk=int(payment_id), provider=event.provider).first()
            if payment is not None and not payment.provider_reference:
                Payment.objects.filter(pk=payment.pk, provider_reference__isnull=True).update(
                    provider_reference=event.object_reference)
                payment.refresh_from_db()
    return payment


def _dispatch(event: WebhookEvent) -> tuple[str, str]:
    from apps.payments.services.payments import payment_sync
    from apps.payments.services.payouts import connect_account_sync
    from apps.payments.services.refunds import refund_sync

    if event.type in PAYMENT_EVENTS:
        payment = _payment_for(event)
        if payment is None:
            return WebhookStatus.IGNORED, "No payment of ours has this reference."
        return WebhookStatus.PROCESSED, payment_sync(payment_id=payment.pk)
    if event.type in REFUND_EVENTS:
        refund = Refund.objects.filter(provider_reference=event.object_reference).first()
        if refund is None:
            return WebhookStatus.IGNORED, "No refund of ours has this reference."
        return WebhookStatus.PROCESSED, refund_sync(refund_id=refund.pk)
    if event.type in ACCOUNT_EVENTS:
        account = ConnectAccount.objects.filter(account_reference=event.object_reference).first()
        if account is None:
            return WebhookStatus.IGNORED, "Unknown account."
        return WebhookStatus.PROCESSED, connect_account_sync(account_id=account.pk)
    return WebhookStatus.IGNORED, f"{event.type} is not handled."


def webhook_process(*, event_pk: int, replay: bool = False) -> str:
    """Process one stored event (the `payments.webhook_process` task, or a replay from the admin).

    Not inside a transaction (the provider is re-read). Done events return at once unless
    `replay`. A provider outage is re-raised (the task retries); any other error marks the event
    failed with the error kept, to be replayed. Idempotent.
    """
    event = WebhookEvent.objects.get(pk=event_pk)
    if event.status in (WebhookStatus.PROCESSED, WebhookStatus.IGNORED) and not replay:
        return str(event.status)
    WebhookEvent.objects.filter(pk=event_pk).update(attempts=F("attempts") + 1)
    try:
        status, note = _dispatch(event)
    except PaymentProviderError as exc:
        WebhookEvent.objects.filter(pk=event_pk).update(status=WebhookStatus.FAILED, error=str(exc)[:2000])
        if exc.retryable:
            raise
        return WebhookStatus.FAILED
    except Exception as exc:
        logger.exception("webhook_process_failed", event_pk=event_pk)
        WebhookEvent.objects.filter(pk=event_pk).update(status=WebhookStatus.FAILED, error=repr(exc)[:2000])
        return WebhookStatus.FAILED
    WebhookEvent.objects.filter(pk=event_pk).update(status=status, error="" if status == WebhookStatus.PROCESSED else note,
                                                    processed_at=timezone.now())
    logger.info("webhook_processed", event_pk=event_pk, type=event.type, status=status, outcome=note)
    return str(status)


def webhook_replay(*, event_pk: int) -> None:
    """Queue a stored event for processing again (admin action). Idempotent."""
    WebhookEvent.objects.filter(pk=event_pk).update(status=WebhookStatus.RECEIVED)
    enqueue_on_commit("payments.webhook_process", event_pk=event_pk, replay=True)
