"""Writes of the notification outbox: enqueue, send an email, deliver a webhook.

Exactly-once effects on top of at-least-once tasks: a row is claimed (pending -> sending, attempt
counted, committed) before the email or HTTP call and marked sent after it, so a repeated task
finds `sent` and returns. Only a worker that dies between the external call and the commit that
records it can cause a repeat; the sweep retries such a claim only after STALE_SENDING_SECONDS.

Rows written together (one event, or several events of one transaction through
`notifications_enqueue_many`) are sent by ONE `notifications.send_batch` task after commit, each
row still claimed, sent and recorded on its own. Single-row tasks send the retries with backoff.
"""

from django.core.mail import EmailMultiAlternatives

from apps.notifications.services.outbox import (
    SWEEP_BATCH_SIZE,
    NotificationEvent,
    notification_enqueue,
    notifications_enqueue_many,
    notifications_sweep_pending,
)
from apps.notifications.services.render import MONEY_KEYS, notification_send, notifications_send_batch, render_email
from apps.notifications.services.webhooks import (
    SIGNATURE_HEADER,
    WEBHOOK_EVENT_TYPES,
    webhook_deliver,
    webhook_endpoint_save,
    webhook_sign,
    webhook_verify,
)

__all__ = [
    "MONEY_KEYS",
    "SIGNATURE_HEADER",
    "SWEEP_BATCH_SIZE",
    "WEBHOOK_EVENT_TYPES",
    "EmailMultiAlternatives",  # the class the email sender uses (tests patch its `send`)
    "NotificationEvent",
    "notification_enqueue",
    "notification_send",
    "notifications_enqueue_many",
    "notifications_send_batch",
    "notifications_sweep_pending",
    "render_email",
    "webhook_deliver",
    "webhook_endpoint_save",
    "webhook_sign",
    "webhook_verify",
]
