"""Notification tasks. Thin and idempotent (DESIGN.md habit 5): each calls one service."""

from celery import shared_task

from apps.notifications import services


@shared_task(name="notifications.send")
def send(notification_id: int) -> bool:
    """Send one email from the outbox. Idempotent: a sent row is not sent again."""
    return services.notification_send(notification_id=notification_id)


@shared_task(name="notifications.webhook_deliver")
def webhook_deliver(notification_id: int) -> bool:
    """POST one exhibitor webhook. Idempotent; retries are scheduled by the service with backoff."""
    return services.webhook_deliver(notification_id=notification_id)


@shared_task(name="notifications.sweep_pending")
def sweep_pending() -> int:
    """Beat, every minute: send what the outbox still holds (broker outage, lost message, dead worker)."""
    return services.notifications_sweep_pending()
