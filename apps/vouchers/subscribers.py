"""Domain events vouchers listen to (marketplace/events.py)."""

from typing import Any

import structlog

from marketplace import events

logger = structlog.get_logger(__name__)


@events.subscriber("demo.loaded", when="in_transaction")
def add_demo_campaigns(**_: Any) -> None:
    """`load_demo` (catalog, below us) loaded the demo expo: add the demo voucher campaigns
    (idempotent). In the emitter's flow, so a failure fails the load."""
    from apps.vouchers.demo import demo_vouchers  # the demo module reads accounts and catalog's demo constants

    created = demo_vouchers()
    logger.info("demo_vouchers_loaded", **created)
