"""Signed exhibitor webhooks: sign, verify, deliver a claimed row, validate an endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import requests
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.notifications.models import (
    Channel,
    ExhibitorWebhookEndpoint,
    Notification,
    NotificationKind,
    WebhookDelivery,
)
from apps.notifications.services.outbox import (
    _claim,
    _conf,
    _finish,
)
from marketplace.netguard import outbound_url_error

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Expo-Signature"
WEBHOOK_EVENT_TYPES: dict[str, str] = {
    NotificationKind.NEW_SALE: "sale.created",
    NotificationKind.SALE_REFUNDED: "sale.refunded",
}


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
