"""Writes of the booth: redemptions a device made (online at once, or offline and synced later).

The same rules as `apps.fulfilment.services.pass_redeem`, per item, with the device's clock as
the moment of redemption: a booth that lost its network admits visitors and sends the batch
when it is back. Each item is decided by one conditional UPDATE (redeemed_at IS NULL), so two
devices, or one pass queued twice, redeem it exactly once; the others are told why not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.catalog.models import ProductKind
from apps.fulfilment.booth.selectors import holder_label
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.tenancy import can_access_exhibitor

logger = logging.getLogger(__name__)

BATCH_LIMIT = 200
# A device clock may run a little fast; a redemption "from the future" beyond this is refused.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
# An offline device syncs within the expo; older redemptions are refused rather than backdated.
MAX_OFFLINE_AGE = timedelta(hours=72)


class SyncStatus:
    REDEEMED = "redeemed"
    ALREADY_REDEEMED = "already_redeemed"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    REVOKED = "revoked"
    NOT_VALID_NOW = "not_valid_now"
    INVALID_TIME = "invalid_time"


@dataclass(frozen=True)
class RedemptionRequest:
    """One redemption a device made: the scanned token and the device's time of redeeming."""

    token: str
    redeemed_at: datetime
    client_id: str = ""


@dataclass(frozen=True)
class RedemptionResult:
    client_id: str
    status: str
    pass_id: int | None = None
    redeemed_at: datetime | None = None
    holder: str = ""
    product: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == SyncStatus.REDEEMED


def pass_redeem_batch(*, user: Any, items: list[RedemptionRequest], exhibitor_id: int | None = None,
                      now: datetime | None = None) -> list[RedemptionResult]:
    """Redeem the passes a device admitted; one result per item, in order.

    For staff of the passes' exhibitor and operators; with `exhibitor_id`, only that booth's
    passes. Per item: `redeemed` (now, or before by the same user at the same device time: a
    retried sync is idempotent); `already_redeemed` with the stored time (another device, or an
    earlier sync); `duplicate` for a pass an earlier item of this batch redeemed; `not_found` for a forged token or
    a pass the user may not act on; `revoked`; `not_valid_now` when the device time is outside the
    pass's validity; `invalid_time` when the device time is more than MAX_CLOCK_AHEAD ahead of
    the server or older than MAX_OFFLINE_AGE. A refused item changes nothing. Items are
    independent (no all-or-nothing): each one is one conditional UPDATE. Raises ValueError over
    BATCH_LIMIT items.
    """
    from apps.fulfilment.services import pass_token_read

    if len(items) > BATCH_LIMIT:
        raise ValueError(f"At most {BATCH_LIMIT} redemptions per batch.")
    now = now or timezone.now()
    ids = [pass_token_read(item.token) for item in items]
    found = {e.pk: e for e in Entitlement.objects.filter(pk__in={i for i in ids if i is not None}, kind=ProductKind.PASS)
             .select_related("user", "product")}
    seen: dict[int, RedemptionResult] = {}
    results: list[RedemptionResult] = []
    for item, entitlement_id in zip(items, ids, strict=True):
        entitlement = found.get(entitlement_id) if entitlement_id is not None else None
        if (entitlement is None or not can_access_exhibitor(user, entitlement.exhibitor_id)
                or (exhibitor_id is not None and entitlement.exhibitor_id != exhibitor_id)):
            results.append(RedemptionResult(client_id=item.client_id, status=SyncStatus.NOT_FOUND))
            continue
        earlier = seen.get(entitlement.pk)
        if earlier is not None:
            status, redeemed_at = SyncStatus.DUPLICATE, earlier.redeemed_at
        else:
            status, redeemed_at = _redeem_one(entitlement, user=user, at=item.redeemed_at, now=now)
        result = RedemptionResult(client_id=item.client_id, status=status, pass_id=entitlement.pk, redeemed_at=redeemed_at,
                                  holder=holder_label(entitlement.user), product=entitlement.product.title)
        results.append(result)
        if result.accepted:
            seen[entitlement.pk] = result
    redeemed = sum(1 for r in results if r.accepted)
    if results:
        logger.info("booth sync by user %s: %s items, %s redeemed", getattr(user, "pk", None), len(results), redeemed)
    return results


def _redeem_one(entitlement: Entitlement, *, user: Any, at: datetime, now: datetime) -> tuple[str, datetime | None]:
    """(status, redeemed_at) of one item; writes only when it redeems."""
    if at > now + MAX_CLOCK_AHEAD or at < now - MAX_OFFLINE_AGE:
        return SyncStatus.INVALID_TIME, None
    if entitlement.status != EntitlementStatus.ACTIVE:
        return SyncStatus.REVOKED, None
    if entitlement.redeemed_at is None and (
            (entitlement.valid_from and at < entitlement.valid_from)
            or (entitlement.valid_until and at >= entitlement.valid_until)):
        return SyncStatus.NOT_VALID_NOW, None
    updated = Entitlement.objects.filter(pk=entitlement.pk, status=EntitlementStatus.ACTIVE,
                                         redeemed_at__isnull=True).update(redeemed_at=at, redeemed_by=user)
    if updated:
        return SyncStatus.REDEEMED, at
    entitlement.refresh_from_db(fields=["status", "redeemed_at", "redeemed_by"])
    if entitlement.status != EntitlementStatus.ACTIVE:
        return SyncStatus.REVOKED, None
    if entitlement.redeemed_by_id == getattr(user, "pk", None) and entitlement.redeemed_at == at:
        # The same device sending the same redemption again (its first answer was lost).
        return SyncStatus.REDEEMED, at
    return SyncStatus.ALREADY_REDEEMED, entitlement.redeemed_at
