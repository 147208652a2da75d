"""The reconciliation sweep: repair what a lost webhook or a crashed worker left behind.

Everything goes through the same services as the live path, so a repair is exactly what the
missing event would have done; what cannot be repaired is raised to operators.
"""

from datetime import timedelta
from typing import Any, cast

import structlog
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.payments.models import (
    UNSETTLED_STATUSES,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    Transfer,
    TransferReversal,
    TransferStatus,
    WebhookEvent,
    WebhookStatus,
)
from apps.payments.providers import PaymentProviderError
from apps.payments.services.common import raise_to_operators
from apps.payments.services.payments import payment_sync
from apps.payments.services.payouts import payouts_settle_order, reversal_send, transfer_send
from apps.payments.services.refunds import refund_sync
from marketplace.tasks import enqueue_on_commit

logger = structlog.get_logger(__name__)

MAX_WEBHOOK_ATTEMPTS = 5


def payments_reconcile(*, now: Any = None) -> dict[str, int]:
    """Compare local unsettled payments, refunds, transfers and stored events with the provider
    and finish them. Rows younger than PAYMENTS["RECONCILE_GRACE"] are left to their webhook.
    Not inside a transaction. Idempotent; overlapping runs are safe (the services lock)."""
    now = now or timezone.now()
    conf = cast(dict[str, Any], settings.PAYMENTS)
    before = now - cast(timedelta, conf["RECONCILE_GRACE"])
    batch = int(conf["RECONCILE_BATCH"])
    counts = {"payments": 0, "refunds": 0, "transfers": 0, "events": 0, "raised": 0}

    for payment_id in (Payment.objects.filter(status__in=UNSETTLED_STATUSES, created_at__lt=before)
                       .exclude(provider_reference=None).order_by("created_at").values_list("pk", flat=True)[:batch]):
        try:
            payment_sync(payment_id=payment_id)
            counts["payments"] += 1
        except PaymentProviderError as exc:
            if not exc.retryable:
                counts["raised"] += 1
                raise_to_operators(reason=f"Payment {payment_id} cannot be read from the provider: {exc}",
                                   dedupe_key=f"reconcile-payment:{payment_id}", payment_id=payment_id)

    for refund_id in (Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=before)
                      .order_by("created_at").values_list("pk", flat=True)[:batch]):
        try:
            refund_sync(refund_id=refund_id)
            counts["refunds"] += 1
        except PaymentProviderError as exc:
            logger.warning("reconcile_refund_failed", refund_id=refund_id, error=str(exc))

    for transfer_id in (Transfer.objects.filter(status=TransferStatus.SENDING, updated_at__lt=before)
                        .values_list("pk", flat=True)[:batch]):
        transfer_send(transfer_id=transfer_id)
        counts["transfers"] += 1
    for reversal_id in (TransferReversal.objects.filter(status=TransferStatus.PENDING, created_at__lt=before)
                        .values_list("pk", flat=True)[:batch]):
        reversal_send(reversal_id=reversal_id)
    # Paid orders whose payouts task was lost: no transfer row yet, or still waiting.
    orders = (Payment.objects.filter(status=PaymentStatus.SUCCEEDED, succeeded_at__lt=before)
              .filter(Q(order__transfers__isnull=True) | Q(order__transfers__status=TransferStatus.PENDING))
              .values_list("order_id", flat=True).distinct()[:batch])
    for order_id in orders:
        payouts_settle_order(order_id=order_id)

    stuck = (WebhookEvent.objects.filter(status__in=[WebhookStatus.RECEIVED, WebhookStatus.FAILED],
                                         received_at__lt=before)
             .order_by("received_at").values_list("pk", "attempts", "event_id")[:batch])
    for event_pk, attempts, event_id in stuck:
        if attempts >= MAX_WEBHOOK_ATTEMPTS:
            counts["raised"] += 1
            raise_to_operators(reason=f"Webhook event {event_id} failed {attempts} times; replay it from the admin.",
                               dedupe_key=f"webhook-stuck:{event_pk}")
            continue
        enqueue_on_commit("payments.webhook_process", event_pk=event_pk)
        counts["events"] += 1
    logger.info("payments_reconciled", **counts)
    return counts
