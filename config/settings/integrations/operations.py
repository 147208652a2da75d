"""The operations console (apps.operations): queue thresholds, refresh and Celery probing."""

from config.settings import env as E

# Age (seconds) of a queue's oldest item above which the queue is marked breached on /ops/, in
# the API and as a Prometheus gauge. A queue missing here is never marked breached.
OPS_QUEUE_THRESHOLDS: dict[str, int] = {
    # Unpaid orders expire after the hold; older than that plus the sweep's minute means the
    # expiry sweep is not running.
    "pending_payment": E.ORDER_HOLD_MINUTES * 60 + 120,
    # Paid orders stay "fulfilling" for the fulfilment sweep's threshold (2 min), then wait here
    # for the sweep to re-enqueue them: a few more minutes there means fulfilment is not working.
    "paid_awaiting_fulfilment": 300,
    "needs_attention": 0,
    "refund_pending": 600,
    # Transfers wait for the exhibitor's Connect onboarding; a day is an expo-day's patience.
    "payout_pending": 24 * 3600,
    "webhook_events": 300,
    "payment_attention": 0,
    "notifications_failed": 0,
}
# How often the console refreshes itself (seconds) and how many items it lists per queue.
OPS_REFRESH_SECONDS = 5
OPS_ITEMS_PER_QUEUE = 10
# Workers are found by a broadcast ping that always waits its whole timeout, so the answer is
# cached briefly: page refreshes, API calls and Prometheus scrapes share one ping.
OPS_CELERY_PING_TIMEOUT = 0.5
OPS_CELERY_CACHE_SECONDS = 10
