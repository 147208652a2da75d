"""Notifications: the outbox sender and exhibitor webhooks."""

from typing import Any

NOTIFICATIONS: dict[str, Any] = {
    # Email and webhook attempts before a notification is given up (status failed).
    "MAX_ATTEMPTS": 6,
    # Backoff between webhook attempts: BASE * 2**(attempt-1) seconds, capped.
    "RETRY_BASE_SECONDS": 30,
    "RETRY_MAX_SECONDS": 3600,
    "WEBHOOK_TIMEOUT_SECONDS": 5,
    # A webhook endpoint answering 410 Gone this many times in a row is disabled.
    "WEBHOOK_DISABLE_AFTER_410S": 3,
    # A row claimed for sending longer ago than this is presumed lost with its worker and retried.
    "STALE_SENDING_SECONDS": 300,
    # Exhibitor webhook URLs must resolve to public addresses (marketplace/netguard.py: no SSRF into
    # our network). Tests and local development deliver to loopback and turn this on.
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": False,
}
