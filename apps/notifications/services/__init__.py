"""Writes of the notification outbox: enqueue, send an email, deliver a webhook.

Modules: `outbox` (enqueue, claim, finish, sweep; its docstring tells how effects stay exactly
once on top of at-least-once tasks), `render` (emails in the recipient's language) and `webhooks`
(signed deliveries to exhibitors' endpoints). The names other apps and tests use are re-exported
here.
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
