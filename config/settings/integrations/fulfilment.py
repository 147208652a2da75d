"""Fulfilment: signing keys, link lifetimes, the unfulfilled-order sweep."""

from datetime import timedelta
from typing import Any

from config.settings import env as E

# Public on purpose: it only signs development data. production.py refuses to start with it.
DEV_FULFILMENT_SIGNING_KEY = "iN9Kvkin10KtuZKkHwXlCow8XA0Mu6jqpFqaNKIxf9E="

FULFILMENT: dict[str, Any] = {
    "SIGNING_KEY": E.FULFILMENT_SIGNING_KEY or DEV_FULFILMENT_SIGNING_KEY,
    # Download links in the library are minted per request and live this long.
    "DOWNLOAD_LINK_TTL": timedelta(hours=1),
    # A booking's access link leads to the meeting from this long before the slot starts.
    "BOOKING_OPENS_EARLY": timedelta(minutes=10),
    # Paid orders still unfulfilled after this are re-enqueued by the beat sweep.
    "SWEEP_THRESHOLD": timedelta(minutes=2),
    "SWEEP_BATCH": 500,
    # Paid orders one fulfilment task delivers together (apps/fulfilment/services/fulfil.py): a
    # backlog (a sold-out drop's payments) is worked off in batches, each order still exactly once.
    "BATCH_SIZE": 50,
    # Gifting collectibles: how long a holder keeps an edition before giving it on; first holder
    # (the buyer) and after a gift (the large Chinese platforms use 180 days and 2 years).
    "GIFT_HOLD_FIRST": timedelta(days=180),
    "GIFT_HOLD_AFTER_TRANSFER": timedelta(days=730),
    "FRONTEND_URL": E.FRONTEND_URL,
}
