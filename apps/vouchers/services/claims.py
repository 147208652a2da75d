"""Claiming vouchers: the race for a campaign's budget (API.md "Vouchers").

One short transaction per claim, its rows in a fixed order so claims never deadlock: the
shopper's counters (`CustomerClaims`, a conditional upsert: total and per-window limits), the
window's counter when a window's unclaimed vouchers are lost (`CampaignWindow`), then the
campaign's counter (a conditional `UPDATE ... WHERE claimed_count - returned_count < cap`), then
the voucher row. A refusal rolls everything back. "Campaign exhausted" is answered from a Redis
flag once Postgres has said so, without touching the hot campaign row (DESIGN.md).
"""

from datetime import datetime, timedelta
from typing import Any

import structlog
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.selectors import user_is_member
from apps.vouchers.errors import CampaignExhausted, NotClaimableNow, NotEligible, VoucherLimitExceeded
from apps.vouchers.models import Campaign, CampaignWindow, CustomerClaims, Voucher
from apps.vouchers.windows import Window, current_window
from marketplace.errors import NotFound

logger = structlog.get_logger(__name__)

EXHAUSTED_FLAG_TTL = 60  # seconds; a flag raced by a voucher returning to the pool heals by itself
UNLIMITED = 2**31 - 1


def _flag_keys(campaign_id: int, window: Window | None) -> list[str]:
    keys = [f"vouchers:exhausted:{campaign_id}"]
    if window is not None:
        keys.append(f"vouchers:exhausted:{campaign_id}:{int(window.starts_at.timestamp())}")
    return keys


def campaign_flagged_exhausted(*, campaign_id: int, window: Window | None) -> bool:
    """Whether Redis says the campaign (or this window of it) has nothing left: one round trip."""
    return bool(cache.get_many(_flag_keys(campaign_id, window)))


def campaign_clear_exhausted(*, campaign_ids: list[int]) -> None:
    """Forget the campaign-wide flags (vouchers returned to the pool). Window flags expire alone."""
    if campaign_ids:
        cache.delete_many([f"vouchers:exhausted:{cid}" for cid in campaign_ids])


def _count_customer(campaign: Campaign, user_id: int, window: Window) -> None:
    table = CustomerClaims._meta.db_table
    sql = f"""
        INSERT INTO {table} AS c (campaign_id, user_id, total, window_starts_at, window_count)
        VALUES (%(campaign)s, %(user)s, 1, %(window)s, 1)
        ON CONFLICT (campaign_id, user_id) DO UPDATE SET
            total = c.total + 1,
            window_starts_at = EXCLUDED.window_starts_at,
            window_count = CASE WHEN c.window_starts_at = EXCLUDED.window_starts_at THEN c.window_count + 1 ELSE 1 END
        WHERE c.total + 1 <= %(total_limit)s
          AND (c.window_starts_at <> EXCLUDED.window_starts_at OR c.window_count + 1 <= %(window_limit)s)
        RETURNING c.id
    """  # noqa: S608 - only the table name is interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "user": user_id, "window": window.starts_at,
                             "total_limit": campaign.per_customer_limit,
                             "window_limit": campaign.per_window_limit or UNLIMITED})
        if cursor.fetchone() is None:
            raise VoucherLimitExceeded()


def _count_window(campaign: Campaign, window: Window) -> None:
    table = CampaignWindow._meta.db_table
    sql = f"""
        INSERT INTO {table} AS w (campaign_id, starts_at, claimed) VALUES (%(campaign)s, %(window)s, 1)
        ON CONFLICT (campaign_id, starts_at) DO UPDATE SET claimed = w.claimed + 1 WHERE w.claimed < %(quota)s
        RETURNING w.id
    """  # noqa: S608 - only the table name is interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "window": window.starts_at, "quota": campaign.window_quota})
        if cursor.fetchone() is None:
            raise _WindowExhausted()


class _WindowExhausted(CampaignExhausted):
    default_detail = _("All vouchers of this claim window have been claimed; try the next window.")


def _count_campaign(campaign: Campaign, window: Window) -> None:
    cap = campaign.quantity
    if campaign.window_quota and campaign.returns_to_pool:
        # Unclaimed vouchers roll over: by the end of window k at most (k + 1) × quota are out.
        cap = min(cap, (window.index + 1) * campaign.window_quota)
    table = Campaign._meta.db_table
    sql = f"""
        UPDATE {table} SET claimed_count = claimed_count + 1
        WHERE id = %(campaign)s AND is_active AND claimed_count - returned_count < LEAST(quantity, %(cap)s)
        RETURNING id
    """  # noqa: S608 - only the table name is interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "cap": cap})
        if cursor.fetchone() is None:
            if cap < campaign.quantity:
                raise _WindowExhausted()
            raise CampaignExhausted()


def campaign_get_claimable(*, slug: str) -> Campaign:
    """The campaign by slug (one query). Raises NotFound for an unknown slug."""
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise NotFound()
    return campaign


def voucher_claim(*, campaign: Campaign, user: Any, now: datetime | None = None) -> Voucher:
    """Claim one voucher of `campaign` for `user`.

    Raises NotClaimableNow (paused, before, after or between windows), CampaignExhausted (the
    budget, or this window's quota, is used up), NotEligible (the campaign's group, and `user` is
    not a verified current member), VoucherLimitExceeded (`limit_exceeded`: the shopper's total or
    per-window limit). Nothing is written when it raises. Not idempotent: each call is a new
    voucher (the API's Idempotency-Key makes the request idempotent). Safe under any concurrency:
    the counters are conditional writes in Postgres.
    """
    now = now or timezone.now()
    window = current_window(campaign, now) if campaign.is_active else None
    if window is None:
        raise NotClaimableNow()
    if campaign_flagged_exhausted(campaign_id=campaign.pk, window=window):
        raise CampaignExhausted()
    if campaign.eligibility_id is not None and not user_is_member(user_id=user.pk, group_id=campaign.eligibility_id, now=now):
        raise NotEligible()
    try:
        with transaction.atomic():
            _count_customer(campaign, user.pk, window)
            if campaign.window_quota and not campaign.returns_to_pool:
                _count_window(campaign, window)
            _count_campaign(campaign, window)
            voucher = Voucher.objects.create(campaign=campaign, user=user, window_starts_at=window.starts_at,
                                             expires_at=now + timedelta(days=campaign.valid_days))
    except CampaignExhausted as exc:
        _flag_if_empty(campaign, window, window_only=isinstance(exc, _WindowExhausted), now=now)
        raise
    logger.info("voucher_claimed", campaign=campaign.slug, voucher_id=voucher.pk, user_id=user.pk)
    return voucher


def _flag_if_empty(campaign: Campaign, window: Window, *, window_only: bool, now: datetime) -> None:
    """After the rollback: raise the flag (campaign-wide, or for this window until it ends)."""
    if window_only:
        ttl = max(int((window.ends_at - now).total_seconds()), 1)
        cache.set(_flag_keys(campaign.pk, window)[1], 1, timeout=min(ttl, 24 * 3600))
        return
    counts = Campaign.objects.filter(pk=campaign.pk).values("quantity", "claimed_count", "returned_count").first()
    if counts and counts["claimed_count"] - counts["returned_count"] >= counts["quantity"]:
        cache.set(_flag_keys(campaign.pk, None)[0], 1, timeout=EXHAUSTED_FLAG_TTL)
