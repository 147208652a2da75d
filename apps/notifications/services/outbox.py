"""The notification outbox: enqueue, claim, finish, and the sweep of stale or due rows.

Exactly-once effects on top of at-least-once tasks: a row is claimed (pending -> sending, attempt
counted, committed) before the email or HTTP call and marked sent after it, so a repeated task
finds `sent` and returns. Only a worker that dies between the external call and the commit that
records it can cause a repeat; the sweep retries such a claim only after STALE_SENDING_SECONDS.

Rows written together (one event, or several events of one transaction through
`notifications_enqueue_many`) are sent by ONE `notifications.send_batch` task after commit: its
emails are claimed with one conditional UPDATE (`_claim_many`), then each is sent and recorded as
sent on its own (one committed UPDATE per row, so the window above stays one row wide). A batch
that cannot send a claimed row within half of STALE_SENDING_SECONDS gives the rest back
(`_release`) instead of racing the sweep. Single-row tasks send the retries with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.exhibitors.models import ExhibitorMembership
from apps.notifications.models import (
    EXHIBITOR_KINDS,
    Channel,
    ExhibitorWebhookEndpoint,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from marketplace.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

# Rows per `notifications.send_batch` task when the sweep re-enqueues a backlog.
SWEEP_BATCH_SIZE = 50


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
    kinds = set(NotificationKind.values)  # built anew by every access: once per call, not per event
    for event in events:
        if event.kind not in kinds:
            raise ValueError(f"Unknown notification kind {event.kind!r}.")
    user_model = get_user_model()
    user_ids = {e.recipient_user_id for e in events if e.recipient_user_id is not None}
    # Only what a row takes from its recipient (a ballot's draw tells 100,000 shoppers at once).
    users = ({user.pk: user for user in user_model.objects.filter(pk__in=user_ids).only("pk", "email", "language")}
             if user_ids else {})
    exhibitor_ids = {e.exhibitor_id for e in events if e.to_exhibitor() and e.exhibitor_id is not None}
    staff = _exhibitor_staff(exhibitor_ids)
    endpoints: dict[int, list[ExhibitorWebhookEndpoint]] = {}
    if exhibitor_ids:
        for endpoint in ExhibitorWebhookEndpoint.objects.filter(exhibitor_id__in=exhibitor_ids, active=True).order_by("id"):
            endpoints.setdefault(endpoint.exhibitor_id, []).append(endpoint)
    operators = _operators() if any(e.to_operators() for e in events) else []

    rows: list[Notification] = []
    unheard: list[str] = []
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
            unheard.append(f"{event.kind} ({event.dedupe_key})")
    if unheard:
        # One line per call, not per event: a batch of orders from an exhibitor without staff or
        # endpoints would otherwise log once per order.
        logger.info("%s notifications have no recipient: %s", len(unheard), ", ".join(unheard[:5]) + (", ..." if len(unheard) > 5 else ""))
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


def _claim_many(notifications: Sequence[Notification], *, now: Any) -> list[Notification]:
    """`_claim_loaded` for many rows in ONE conditional UPDATE (committed at once in autocommit
    mode): returns the rows this call claimed, in the given order, updated as `_claim_loaded`
    updates one. A row claimed elsewhere, sent, failed or not due is not returned. Claiming a
    batch up front costs one statement instead of one per row; the sender must still send each row
    within STALE_SENDING_SECONDS of `now` (see `_claim_expired`), or release it (`_release`)."""
    if not notifications:
        return []
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, attempts = attempts + 1, claimed_at = %s "  # noqa: S608 - our table name only
            "WHERE id = ANY(%s) AND status = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
            "RETURNING id, attempts",
            [NotificationStatus.SENDING, now, [n.pk for n in notifications], NotificationStatus.PENDING, now],
        )
        attempts = dict(cursor.fetchall())
    claimed = [n for n in notifications if n.pk in attempts]
    for notification in claimed:
        notification.status = NotificationStatus.SENDING
        notification.attempts = attempts[notification.pk]
        notification.claimed_at = now
    return claimed


def _claim_expired(claimed_at: Any, *, now: Any) -> bool:
    """True once a claim is half way to STALE_SENDING_SECONDS: past that, the sweep may soon hand
    the row to another worker, so a batch stops sending rows it claimed then (and releases them)."""
    return bool(now - claimed_at > timedelta(seconds=_conf("STALE_SENDING_SECONDS")) / 2)


def _release(notifications: Sequence[Notification], *, claimed_at: Any) -> list[int]:
    """Give back rows claimed at `claimed_at` that were not attempted (sending -> pending, the
    claim's attempt uncounted), only where the claim is still that one, and send them again with
    one `notifications.send_batch` task (after commit, at once in autocommit). Returns the ids."""
    if not notifications:
        return []
    table = Notification._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, attempts = attempts - 1, claimed_at = NULL "  # noqa: S608 - our table
                "WHERE id = ANY(%s) AND status = %s AND claimed_at = %s RETURNING id",
                [NotificationStatus.PENDING, [n.pk for n in notifications], NotificationStatus.SENDING, claimed_at],
            )
            released = sorted(row[0] for row in cursor.fetchall())
        _schedule_batch(notification_ids=released)
    return released


def _finish(notification: Notification, *, ok: bool, error: str = "", retry: bool = True) -> None:
    """Record the outcome of an attempt; schedule the next one with exponential backoff."""
    now = timezone.now()
    if ok:
        # One UPDATE, committed at once (autocommit): the window in which a sent row is not yet
        # recorded as sent stays as short as it can be. Plain SQL: a batch runs one per row.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Notification._meta.db_table} SET status = %s, sent_at = %s, last_error = '', "  # noqa: S608 - our table
                "next_attempt_at = NULL WHERE id = %s",
                [NotificationStatus.SENT, now, notification.pk],
            )
        notification.status, notification.sent_at = NotificationStatus.SENT, now
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
