"""Email: render a notification's zh/en templates and send claimed rows, one or a batch."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.notifications.models import (
    Channel,
    Notification,
    NotificationStatus,
)
from apps.notifications.services.outbox import (
    _claim,
    _claim_expired,
    _claim_many,
    _finish,
    _release,
)
from apps.notifications.services.webhooks import webhook_deliver
from marketplace.money import format_money

logger = logging.getLogger(__name__)

# Amounts a notification's context may carry in minor units, with its `currency`: each gets a
# `<key>_display` ("CNY 12.50") for the templates, so no email ever shows 1250 as money.
MONEY_KEYS = ("amount", "total", "exhibitor_amount")


def _with_money_display(context: dict[str, Any]) -> dict[str, Any]:
    currency = context.get("currency")
    if not currency:
        return context
    shown = dict(context)
    for key in MONEY_KEYS:
        value = context.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and not context.get(f"{key}_display"):
            shown[f"{key}_display"] = format_money(value, str(currency))
    return shown


def render_email(*, kind: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) from `notifications/email/<language>/<kind>.txt`: first line is the subject.

    English and Simplified Chinese (`zh*`); anything else is English. Rendered with that language
    active, so translated labels in the context (choices, lazy strings) come out in it too.
    """
    lang = "zh-hans" if language.lower().startswith("zh") else "en"
    with translation.override(lang):
        text = render_to_string(f"notifications/email/{lang}/{kind}.txt", _with_money_display(context))
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def _email_claimed(notification: Notification, *, mail_connection: Any = None) -> bool:
    """Send a claimed email row and record the outcome. True if sent. Never raises for delivery
    problems: they are recorded and retried with backoff (the connection is closed so the next
    message of a batch reconnects)."""
    try:
        subject, body = render_email(kind=notification.kind, language=notification.language, context=notification.context)
        message = EmailMultiAlternatives(subject=subject, body=body, to=[notification.recipient_email],
                                         headers={"X-Expo-Notification": notification.dedupe_key}, connection=mail_connection)
        if mail_connection is not None:
            mail_connection.open()  # once per batch: later messages reuse it (no-op when open)
        message.send()
    except Exception as exc:  # any backend failure: retry later, the outbox keeps the row
        if mail_connection is not None:
            with contextlib.suppress(Exception):  # already failing; the next message reconnects
                mail_connection.close()
        _finish(notification, ok=False, error=f"{type(exc).__name__}: {exc}")
        return False
    _finish(notification, ok=True)
    return True


def notification_send(*, notification_id: int) -> bool:
    """Send one email notification. Idempotent: a row already sent (or being sent) is left alone.

    Returns True if this call sent it. A mail backend error is recorded and retried with backoff
    up to MAX_ATTEMPTS, then the row is marked failed. Never raises for delivery problems.
    """
    notification = _claim(notification_id=notification_id, channel=Channel.EMAIL, now=timezone.now())
    if notification is None:
        return False
    return _email_claimed(notification)


def notifications_send_batch(*, notification_ids: Sequence[int]) -> int:
    """Send several outbox rows (emails and webhooks) in one go; returns how many were sent.

    Each row is handled as `notification_send` / `webhook_deliver` handle one: claimed (a row
    sent, failed, not due or claimed elsewhere is skipped), sent, and its outcome recorded right
    after its own send (one UPDATE committed per row: a worker dying mid-batch can repeat at most
    the row it was sending, as for a single row), so a repeated batch sends nothing twice. The
    emails are claimed together with ONE conditional UPDATE (`_claim_many`) instead of one per row,
    then sent over one mail connection; an email not yet attempted when its claim is half way to
    STALE_SENDING_SECONDS (a slow mail server) is released and re-sent by a new batch task rather
    than risk the sweep handing it to another worker meanwhile. Webhooks follow, each claimed and
    delivered by `webhook_deliver`. A failure of one row does not stop the others: delivery errors
    are recorded and retried per row with backoff; an unexpected error is logged, the remaining
    rows are still sent, and the first such error is raised at the end (the task retries
    transient ones; rows left claimed are retried by the sweep after STALE_SENDING_SECONDS).
    """
    ids = sorted({int(i) for i in notification_ids})
    if not ids:
        return 0
    rows = list(Notification.objects.filter(pk__in=ids, status=NotificationStatus.PENDING).order_by("id"))
    claimed_at = timezone.now()
    emails = _claim_many([row for row in rows if row.channel == Channel.EMAIL], now=claimed_at)
    webhooks = [row for row in rows if row.channel != Channel.EMAIL]
    sent = 0
    first_error: BaseException | None = None
    mail_connection = get_connection() if emails else None
    try:
        for n, row in enumerate(emails):
            if _claim_expired(claimed_at, now=timezone.now()):
                released = _release(emails[n:], claimed_at=claimed_at)
                logger.warning("notification batch: %s emails not sent within half the stale time, re-enqueued", len(released))
                break
            try:
                sent += _email_claimed(row, mail_connection=mail_connection)
            except Exception as exc:
                logger.exception("notification %s could not be sent in its batch", row.pk)
                first_error = first_error or exc
    finally:
        if mail_connection is not None:
            try:
                mail_connection.close()
            except Exception:
                logger.warning("closing the mail connection failed", exc_info=True)
    for row in webhooks:
        try:
            # Claimed and read again one by one: the endpoint may have been disabled since.
            sent += webhook_deliver(notification_id=row.pk)
        except Exception as exc:
            logger.exception("notification %s could not be sent in its batch", row.pk)
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return sent
