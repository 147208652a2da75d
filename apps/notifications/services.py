"""Writes of the notification outbox: enqueue, send an email, deliver a webhook.

Exactly-once effects on top of at-least-once tasks: a row is claimed (pending -> sending, attempt
counted, committed) before the email or HTTP call and marked sent after it, so a repeated task
finds `sent` and returns. Only a worker that dies between the external call and the commit that
records it can cause a repeat; the sweep retries such a claim only after STALE_SENDING_SECONDS.

Rows written together (one event, or several events of one transaction through
`notifications_enqueue_many`) are sent by ONE `notifications.send_batch` task after commit, each
row still claimed, sent and recorded on its own. Single-row tasks send the retries with backoff.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from apps.notifications.models import (
    EXHIBITOR_KINDS,
    Channel,
    ExhibitorWebhookEndpoint,
    Notification,
    NotificationKind,
    NotificationStatus,
    WebhookDelivery,
)
from marketplace.money import format_money
from marketplace.netguard import outbound_url_error
from marketplace.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Expo-Signature"
# Rows per `notifications.send_batch` task when the sweep re-enqueues a backlog.
SWEEP_BATCH_SIZE = 50
WEBHOOK_EVENT_TYPES: dict[str, str] = {
    NotificationKind.NEW_SALE: "sale.created",
    NotificationKind.SALE_REFUNDED: "sale.refunded",
}


def _conf(name: str) -> Any:
    return settings.NOTIFICATIONS[name]


# --- Enqueue ---------------------------------------------------------------------------------------


def _operators() -> list[Any]:
    user_model = get_user_model()
    return list(
        user_model.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=settings.MARKETPLACE["OPERATORS_GROUP"]))
        .distinct().order_by("id")
    )


def _exhibitor_staff(exhibitor_ids: set[int]) -> dict[int, list[Any]]:
    """Active staff of each exhibitor, by exhibitor id, ordered by user id (one query)."""
    from apps.exhibitors.models import ExhibitorMembership

    staff: dict[int, list[Any]] = {}
    if not exhibitor_ids:
        return staff
    seen: set[tuple[int, int]] = set()
    memberships = (ExhibitorMembership.objects.filter(exhibitor_id__in=exhibitor_ids, user__is_active=True)
                   .select_related("user").order_by("exhibitor_id", "user_id"))
    for membership in memberships:
        if (membership.exhibitor_id, membership.user_id) not in seen:
            seen.add((membership.exhibitor_id, membership.user_id))
            staff.setdefault(membership.exhibitor_id, []).append(membership.user)
    return staff


@dataclass(frozen=True)
class NotificationEvent:
    """One event to notify about; see `notification_enqueue` for the meaning of the fields."""

    kind: str
    context: dict[str, Any]
    dedupe_key: str
    recipient_user_id: int | None = None
    recipient_email: str | None = None
    exhibitor_id: int | None = None

    def to_exhibitor(self) -> bool:
        return (self.kind in EXHIBITOR_KINDS and self.exhibitor_id is not None and self.recipient_user_id is None
                and not self.recipient_email)

    def to_operators(self) -> bool:
        return self.kind == NotificationKind.OPERATOR_ATTENTION and self.recipient_user_id is None and not self.recipient_email


def notification_enqueue(*, kind: str, recipient_user_id: int | None = None, recipient_email: str | None = None,
                         exhibitor_id: int | None = None, context: dict[str, Any], dedupe_key: str) -> list[int]:
    """Write outbox rows for one event and send them after the current transaction commits.

    Recipients: `recipient_user_id` (in their language) or `recipient_email`; for exhibitor kinds
    (new_sale, sale_refunded) with `exhibitor_id`, every staff member of that exhibitor plus each
    active webhook endpoint of it; for operator_attention without a recipient, every operator.
    Each row's key is `dedupe_key` plus a recipient suffix, unique in the database: enqueueing the
    same event again writes nothing and sends nothing twice (idempotent). `context` must be JSON
    serialisable. Returns the ids of the unsent rows for this event. Same as
    `notifications_enqueue_many` with one event.
    """
    return notifications_enqueue_many(events=[NotificationEvent(
        kind=kind, context=context, dedupe_key=dedupe_key, recipient_user_id=recipient_user_id,
        recipient_email=recipient_email, exhibitor_id=exhibitor_id)])


def notifications_enqueue_many(*, events: Sequence[NotificationEvent]) -> list[int]:
    """Write the outbox rows of several events at once and send them all with ONE
    `notifications.send_batch` task after the current transaction commits.

    Each event is treated exactly as `notification_enqueue` treats it (recipients, dedupe keys,
    idempotency); recipients are looked up, rows written and unsent rows read in a fixed number of
    queries whatever the number of events. Raises ValueError for an unknown kind (nothing is
    written). Returns the ids of the unsent rows of these events.
    """
    for event in events:
        if event.kind not in NotificationKind.values:
            raise ValueError(f"Unknown notification kind {event.kind!r}.")
    user_model = get_user_model()
    user_ids = {e.recipient_user_id for e in events if e.recipient_user_id is not None}
    users = {user.pk: user for user in user_model.objects.filter(pk__in=user_ids)} if user_ids else {}
    exhibitor_ids = {e.exhibitor_id for e in events if e.to_exhibitor() and e.exhibitor_id is not None}
    staff = _exhibitor_staff(exhibitor_ids)
    endpoints: dict[int, list[ExhibitorWebhookEndpoint]] = {}
    if exhibitor_ids:
        for endpoint in ExhibitorWebhookEndpoint.objects.filter(exhibitor_id__in=exhibitor_ids, active=True).order_by("id"):
            endpoints.setdefault(endpoint.exhibitor_id, []).append(endpoint)
    operators = _operators() if any(e.to_operators() for e in events) else []

    rows: list[Notification] = []
    for event in events:
        def email_row(suffix: str, *, user: Any = None, email: str = "", language: str = "en",
                      event: NotificationEvent = event) -> Notification:
            return Notification(
                dedupe_key=f"{event.dedupe_key}:{suffix}", kind=event.kind, channel=Channel.EMAIL, recipient_user=user,
                recipient_email=user.email if user is not None else email, exhibitor_id=event.exhibitor_id,
                language=getattr(user, "language", None) or language, context=event.context,
            )

        before = len(rows)
        if event.recipient_user_id is not None:
            user = users.get(event.recipient_user_id)
            if user is not None:
                rows.append(email_row(f"u{user.pk}", user=user))
        if event.recipient_email:
            rows.append(email_row(f"e:{event.recipient_email.lower()}", email=event.recipient_email))
        if event.to_exhibitor():
            assert event.exhibitor_id is not None
            rows.extend(email_row(f"u{user.pk}", user=user) for user in staff.get(event.exhibitor_id, []))
            rows.extend(
                Notification(dedupe_key=f"{event.dedupe_key}:w{endpoint.pk}", kind=event.kind, channel=Channel.WEBHOOK,
                             endpoint=endpoint, exhibitor_id=event.exhibitor_id, context=event.context)
                for endpoint in endpoints.get(event.exhibitor_id, [])
            )
        if event.to_operators():
            rows.extend(email_row(f"u{user.pk}", user=user) for user in operators)
        if len(rows) == before:
            logger.info("notification %s (%s) has no recipient", event.kind, event.dedupe_key)
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    unsent = list(
        Notification.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows], status=NotificationStatus.PENDING)
        .order_by("id").values_list("id", flat=True)
    )
    _schedule_batch(notification_ids=unsent)
    return unsent


def _schedule_batch(*, notification_ids: list[int]) -> None:
    """One `notifications.send_batch` task after commit for these rows (any channel)."""
    if notification_ids:
        enqueue_on_commit("notifications.send_batch", notification_ids=list(notification_ids))


def _schedule_send(*, notification_id: int, channel: str, countdown: float | None = None) -> None:
    """Enqueue the single-row sender after commit (used for a retry with backoff)."""
    name = "notifications.webhook_deliver" if channel == Channel.WEBHOOK else "notifications.send"
    enqueue_on_commit(name, notification_id=notification_id, countdown=countdown)


# --- Claiming --------------------------------------------------------------------------------------


def _claim(*, notification_id: int, channel: str, now: Any) -> Notification | None:
    """Read the row and claim it (`_claim_loaded`). None if unknown, of another channel, sent,
    failed, not due or claimed by another worker."""
    notification = Notification.objects.select_related("endpoint").filter(pk=notification_id, channel=channel).first()
    if notification is None or not _claim_loaded(notification, now=now):
        return None
    return notification


def _claim_loaded(notification: Notification, *, now: Any) -> bool:
    """pending (due) -> sending, attempts + 1, committed. True if this call claimed the row.

    One conditional UPDATE (atomic on its own, committed at once in autocommit mode): of two
    workers claiming the same row, exactly one gets it. It returns the new attempt count, so a
    row read before the claim is up to date after it (nothing else in a row changes once written).
    """
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, attempts = attempts + 1, claimed_at = %s "  # noqa: S608 - our table name only
            "WHERE id = %s AND channel = %s AND status = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
            "RETURNING attempts",
            [NotificationStatus.SENDING, now, notification.pk, notification.channel, NotificationStatus.PENDING, now],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    notification.status = NotificationStatus.SENDING
    notification.attempts = row[0]
    notification.claimed_at = now
    return True


def _finish(notification: Notification, *, ok: bool, error: str = "", retry: bool = True) -> None:
    """Record the outcome of an attempt; schedule the next one with exponential backoff."""
    now = timezone.now()
    if ok:
        # One UPDATE, committed at once (autocommit): the window in which a sent row is not yet
        # recorded as sent stays as short as it can be.
        Notification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.SENT, sent_at=now, last_error="", next_attempt_at=None)
        return
    with transaction.atomic():
        if retry and notification.attempts < _conf("MAX_ATTEMPTS"):
            delay = min(_conf("RETRY_BASE_SECONDS") * 2 ** (notification.attempts - 1), _conf("RETRY_MAX_SECONDS"))
            Notification.objects.filter(pk=notification.pk).update(
                status=NotificationStatus.PENDING, last_error=error[:2000], next_attempt_at=now + timedelta(seconds=delay))
            _schedule_send(notification_id=notification.pk, channel=notification.channel, countdown=delay)
        else:
            Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.FAILED, last_error=error[:2000])
    logger.warning("notification %s attempt %s failed: %s", notification.pk, notification.attempts, error[:200])


# --- Email -----------------------------------------------------------------------------------------


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

    Each row is handled exactly as `notification_send` / `webhook_deliver` handle one: claimed on
    its own (a row sent, failed, not due or claimed elsewhere is skipped), sent, and its outcome
    recorded right after its own send, so exactly-once holds per row and a repeated batch sends
    nothing twice. Emails go first, over one mail connection; then webhooks. A failure of one row
    does not stop the others: delivery errors are recorded and retried per row with backoff;
    an unexpected error is logged, the remaining rows are still sent, and the first such error
    is raised at the end (the task retries transient ones; rows left claimed are retried by the
    sweep after STALE_SENDING_SECONDS).
    """
    ids = sorted({int(i) for i in notification_ids})
    if not ids:
        return 0
    rows = list(Notification.objects.filter(pk__in=ids, status=NotificationStatus.PENDING).order_by("id"))
    rows.sort(key=lambda row: row.channel != Channel.EMAIL)  # emails first, then webhooks
    sent = 0
    first_error: BaseException | None = None
    mail_connection = get_connection() if any(row.channel == Channel.EMAIL for row in rows) else None
    try:
        for row in rows:
            try:
                if row.channel == Channel.EMAIL:
                    if _claim_loaded(row, now=timezone.now()):
                        sent += _email_claimed(row, mail_connection=mail_connection)
                else:
                    # Webhooks are claimed and read again, like webhook_deliver: the endpoint may
                    # have been disabled since the batch read it.
                    sent += webhook_deliver(notification_id=row.pk)
            except Exception as exc:
                logger.exception("notification %s could not be sent in its batch", row.pk)
                first_error = first_error or exc
    finally:
        if mail_connection is not None:
            try:
                mail_connection.close()
            except Exception:
                logger.warning("closing the mail connection failed", exc_info=True)
    if first_error is not None:
        raise first_error
    return sent


# --- Webhooks --------------------------------------------------------------------------------------


def webhook_sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-Expo-Signature value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_verify(*, secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: check the signature and that the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = webhook_sign(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def webhook_deliver(*, notification_id: int) -> bool:
    """POST one webhook notification to its endpoint, signed; log the attempt.

    Idempotent like `notification_send`. 2xx: sent, the endpoint's 410 counter resets. 410: not
    retried, and the endpoint is disabled after WEBHOOK_DISABLE_AFTER_410S in a row. Other
    answers and network errors: retried with exponential backoff, then failed. An inactive
    endpoint fails the row without a request. No lock is held during the HTTP call.
    """
    notification = _claim(notification_id=notification_id, channel=Channel.WEBHOOK, now=timezone.now())
    if notification is None:
        return False
    return _webhook_claimed(notification)


def _webhook_claimed(notification: Notification) -> bool:
    """POST a claimed webhook row and record the outcome (see `webhook_deliver`). True if delivered."""
    endpoint = notification.endpoint
    assert endpoint is not None  # a database constraint guarantees it for webhook rows
    if not endpoint.active:
        _finish(notification, ok=False, error="endpoint disabled", retry=False)
        return False
    refused = outbound_url_error(endpoint.url, allow_private=_conf("WEBHOOK_ALLOW_PRIVATE_HOSTS"))
    if refused:
        # Checked again at send time: the host may resolve elsewhere than when it was saved.
        _finish(notification, ok=False, error=f"refused: {refused}", retry=False)
        return False
    event_id = notification.dedupe_key
    body = json.dumps({
        "id": event_id, "type": WEBHOOK_EVENT_TYPES.get(notification.kind, notification.kind),
        "created": int(notification.created_at.timestamp()), "data": notification.context,
    }, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json", "User-Agent": "ExpoMarketplace-Webhooks/1",
        SIGNATURE_HEADER: webhook_sign(secret=endpoint.secret, timestamp=timestamp, body=body),
        "X-Expo-Event-Id": event_id,
    }
    started = time.monotonic()
    status: int | None = None
    response_text = ""
    error = ""
    try:
        response = requests.post(endpoint.url, data=body, headers=headers, timeout=_conf("WEBHOOK_TIMEOUT_SECONDS"),
                                 allow_redirects=False)
        status = response.status_code
        response_text = response.text[:2000]
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    ok = status is not None and 200 <= status < 300
    try:
        WebhookDelivery.objects.create(
            notification=notification, endpoint=endpoint, exhibitor_id=endpoint.exhibitor_id, attempt=notification.attempts,
            event_id=event_id, request_body=body.decode(), response_status=status, response_body=response_text,
            error=error, duration_ms=int((time.monotonic() - started) * 1000), success=ok,
        )
    except IntegrityError:  # the endpoint was deleted meanwhile
        logger.warning("webhook delivery log for %s not written", notification.pk)
    if ok:
        ExhibitorWebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_410s=0)
        _finish(notification, ok=True)
        return True
    if status == 410:
        with transaction.atomic():
            ExhibitorWebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_410s=F("consecutive_410s") + 1)
            ExhibitorWebhookEndpoint.objects.filter(
                pk=endpoint.pk, consecutive_410s__gte=_conf("WEBHOOK_DISABLE_AFTER_410S"),
            ).update(active=False)
        _finish(notification, ok=False, error="410 Gone", retry=False)
        return False
    _finish(notification, ok=False, error=error or f"HTTP {status}")
    return False


@transaction.atomic
def webhook_endpoint_save(*, endpoint: ExhibitorWebhookEndpoint) -> ExhibitorWebhookEndpoint:
    """Create or update an exhibitor's webhook endpoint.

    Raises django ValidationError (on `url`) for a URL our workers may not request
    (marketplace/netguard.py). Saving an active endpoint starts a fresh 410 count (re-enabling).
    """
    endpoint.full_clean()
    if endpoint.active:
        endpoint.consecutive_410s = 0
    endpoint.save()
    return endpoint


# --- Sweep -----------------------------------------------------------------------------------------


def notifications_sweep_pending(*, now: Any = None, stale_after: timedelta | None = None, limit: int = 500) -> int:
    """Re-enqueue due pending rows and rows claimed so long ago that their worker must be gone.

    A stale `sending` row goes back to pending first (conditionally, so a concurrent finish wins).
    Sent by `notifications.send_batch` tasks of up to SWEEP_BATCH_SIZE rows each. Idempotent:
    enqueueing a row twice sends it once. Returns how many rows were enqueued.
    """
    now = now or timezone.now()
    stale_after = stale_after if stale_after is not None else timedelta(seconds=_conf("STALE_SENDING_SECONDS"))
    with transaction.atomic():
        Notification.objects.filter(status=NotificationStatus.SENDING, claimed_at__lte=now - stale_after).update(
            status=NotificationStatus.PENDING, next_attempt_at=None)
        due = list(
            Notification.objects.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
                                        status=NotificationStatus.PENDING)
            .order_by("created_at").values_list("id", "channel")[:limit]
        )
        ids = [notification_id for notification_id, _ in due]
        for start in range(0, len(ids), SWEEP_BATCH_SIZE):
            _schedule_batch(notification_ids=ids[start:start + SWEEP_BATCH_SIZE])
    return len(due)
