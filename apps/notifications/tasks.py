"""Notification tasks. Thin and idempotent (DESIGN.md habit 5): each calls one service.

They return whether (or how many) rows were sent, which nobody reads: their successes are not
stored in the result backend (`ignore_result`), their failures are (the project-wide
`task_store_errors_even_if_ignored`), so the operations console still counts them. The outbox
rows themselves record every outcome.
"""

from celery import shared_task

from apps.notifications import services


@shared_task(name="notifications.send_batch", ignore_result=True)
def send_batch(notification_ids: list[int]) -> int:
    """Send the outbox rows of one transaction (emails, then webhooks), each claimed on its own.
    Idempotent: rows already sent are skipped. Returns how many were sent."""
    return services.notifications_send_batch(notification_ids=notification_ids)


@shared_task(name="notifications.send", ignore_result=True)
def send(notification_id: int) -> bool:
    """Send one email from the outbox (retries with backoff). Idempotent: a sent row is not sent again."""
    return services.notification_send(notification_id=notification_id)


@shared_task(name="notifications.webhook_deliver", ignore_result=True)
def webhook_deliver(notification_id: int) -> bool:
    """POST one exhibitor webhook. Idempotent; retries are scheduled by the service with backoff."""
    return services.webhook_deliver(notification_id=notification_id)


@shared_task(name="notifications.sweep_pending")
def sweep_pending() -> int:
    """Beat, every minute: send what the outbox still holds (broker outage, lost message, dead worker)."""
    return services.notifications_sweep_pending()
