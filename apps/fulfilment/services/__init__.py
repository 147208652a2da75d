"""Fulfilment services: turn paid orders into entitlements, and revoke them on refund. Split by
sub-domain: fulfil (fulfil, flag, retry, sweep), revoke (refunded lines), downloads (signed links,
checks), passes (certificate message, pass tokens, redemption) and gifts (giving a collectible).

All writes of apps.fulfilment happen here (DESIGN.md). Tasks in tasks.py are thin wrappers.
Other apps import from here."""

from apps.fulfilment.services.downloads import DOWNLOAD_SALT, download_check, download_consume, download_token_make
from apps.fulfilment.services.fulfil import (
    fulfilment_flag_failed,
    fulfilment_fulfil_order,
    fulfilment_fulfil_orders,
    fulfilment_retry,
    fulfilment_schedule,
    fulfilment_sweep_unfulfilled,
)
from apps.fulfilment.services.gifts import entitlement_transfer, entitlement_transferable_at
from apps.fulfilment.services.passes import certificate_message, pass_redeem, pass_token_make, pass_token_read
from apps.fulfilment.services.revoke import entitlements_revoke_lines, entitlements_revoke_schedule

__all__ = [
    "DOWNLOAD_SALT", "certificate_message", "download_check", "download_consume", "download_token_make",
    "entitlement_transfer", "entitlement_transferable_at",
    "entitlements_revoke_lines", "entitlements_revoke_schedule", "fulfilment_flag_failed", "fulfilment_fulfil_order",
    "fulfilment_fulfil_orders", "fulfilment_retry", "fulfilment_schedule", "fulfilment_sweep_unfulfilled", "pass_redeem", "pass_token_make",
    "pass_token_read",
]
