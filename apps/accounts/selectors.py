"""Reads for accounts: a shopper's verified eligibility groups."""

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import EligibilityMembership


def _current(now: datetime) -> Q:
    return Q(valid_until__isnull=True) | Q(valid_until__gt=now)


def user_group_slugs(*, user_id: int, now: datetime | None = None) -> list[str]:
    """Slugs of the groups `user_id` is a verified, current member of (sorted)."""
    now = now or timezone.now()
    return sorted(EligibilityMembership.objects.filter(_current(now), user_id=user_id)
                  .values_list("group__slug", flat=True))


def user_is_member(*, user_id: int, group_id: int, now: datetime | None = None) -> bool:
    """Whether `user_id` is a verified, current member of the group (one indexed query)."""
    now = now or timezone.now()
    return EligibilityMembership.objects.filter(_current(now), user_id=user_id, group_id=group_id).exists()
