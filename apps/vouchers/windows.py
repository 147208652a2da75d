"""Claim windows of a campaign: one window (claims open → close), or a daily recurring one (e.g.
every day at 12:00 for 60 minutes, local time) inside that range. Pure functions, no queries."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from apps.vouchers.models import Campaign


@dataclass(frozen=True)
class Window:
    starts_at: datetime  # the window's own start (its key), before clipping to the campaign
    ends_at: datetime
    index: int  # 0 for the first window of the campaign, 1 for the next, ...


def _daily(campaign: Campaign, day: datetime) -> tuple[datetime, datetime]:
    assert campaign.window_starts is not None
    assert campaign.window_minutes
    start = timezone.make_aware(datetime.combine(day.date(), campaign.window_starts), timezone.get_current_timezone())
    return start, start + timedelta(minutes=campaign.window_minutes)


def _windows_from(campaign: Campaign, moment: datetime, *, days: int = 3) -> list[tuple[datetime, datetime]]:
    local = timezone.localtime(moment)
    return [_daily(campaign, local + timedelta(days=offset)) for offset in range(-1, days)]


def _index(campaign: Campaign, start: datetime) -> int:
    first = next(s for s, e in _windows_from(campaign, campaign.claim_starts_at) if e > campaign.claim_starts_at)
    return round((start - first).total_seconds() / 86400)


def current_window(campaign: Campaign, now: datetime) -> Window | None:
    """The window open at `now`, or None (before, after, or between recurring windows)."""
    if not campaign.claim_starts_at <= now < campaign.claim_ends_at:
        return None
    if campaign.window_starts is None:
        return Window(campaign.claim_starts_at, campaign.claim_ends_at, 0)
    for start, end in _windows_from(campaign, now, days=1):
        if start <= now < end:
            return Window(start, min(end, campaign.claim_ends_at), _index(campaign, start))
    return None


def next_window(campaign: Campaign, now: datetime) -> Window | None:
    """For a recurring campaign: the window open now, else the next one to open; None when the
    campaign has no recurring windows or no window is left."""
    if campaign.window_starts is None or now >= campaign.claim_ends_at:
        return None
    current = current_window(campaign, now)
    if current is not None:
        return current
    moment = max(now, campaign.claim_starts_at)
    for start, end in _windows_from(campaign, moment):
        if end > moment and start < campaign.claim_ends_at and max(start, moment) >= now:
            return Window(max(start, campaign.claim_starts_at), min(end, campaign.claim_ends_at), _index(campaign, start))
    return None
