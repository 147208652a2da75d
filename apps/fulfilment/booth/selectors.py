"""Reads of the booth: which booths a user runs, a pass looked up by its token, the pass list.

Every read is tenancy-scoped (marketplace.tenancy): a pass of another exhibitor, like a forged
token, answers NotFound, never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.catalog.models import ProductKind
from apps.exhibitors.models import Exhibitor
from apps.exhibitors.selectors import exhibitor_list_for_user
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.errors import NotFound
from marketplace.tenancy import can_access_exhibitor

# The offline pass list carries passes still usable (or expired less than a day ago, so a late
# scan says "expired" rather than "unknown"), newest last, at most this many.
ROSTER_LIMIT = 5000
ROSTER_EXPIRED_GRACE = timedelta(days=1)


class PassState:
    VALID = "valid"
    REDEEMED = "redeemed"
    REVOKED = "revoked"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class PassView:
    """What the booth shows about one pass before (or after) redeeming it."""

    id: int
    state: str
    holder: str
    product: str
    exhibitor_slug: str
    valid_from: datetime | None
    valid_until: datetime | None
    redeemed_at: datetime | None


def booth_exhibitors(*, user: Any) -> QuerySet[Exhibitor]:
    """The booths `user` may run: their own for exhibitor staff, every exhibitor for operators."""
    return exhibitor_list_for_user(user=user).order_by("hall", "booth", "slug")


def booth_exhibitor_get(*, user: Any, slug: str) -> Exhibitor:
    """One booth `user` may run. Raises NotFound for an unknown slug or another exhibitor's."""
    exhibitor = booth_exhibitors(user=user).filter(slug=slug).first() if slug else None
    if exhibitor is None:
        raise NotFound()
    return exhibitor


def exhibitor_display_name(exhibitor: Exhibitor) -> str:
    return exhibitor.name  # the active language's name, else English (apps/exhibitors/translation.py)


def mask_email(email: str) -> str:
    """`shopper@expo.test` → `s*****r@expo.test`: enough to recognise, not enough to harvest."""
    local, _, domain = email.partition("@")
    # Short local parts keep only their first character.
    masked = local[:1] + "*" * max(len(local) - 1, 1) if len(local) <= 2 else local[0] + "*" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}" if domain else masked


def holder_label(user: Any) -> str:
    """The holder as the booth sees them: their name when they gave one, else the masked email."""
    name = (user.get_full_name() or "").strip()
    return name or mask_email(user.email)


def pass_state(entitlement: Entitlement, *, now: datetime) -> str:
    if entitlement.status != EntitlementStatus.ACTIVE:
        return PassState.REVOKED
    if entitlement.redeemed_at is not None:
        return PassState.REDEEMED
    if entitlement.valid_from and now < entitlement.valid_from:
        return PassState.NOT_YET_VALID
    if entitlement.valid_until and now >= entitlement.valid_until:
        return PassState.EXPIRED
    return PassState.VALID


def _view(entitlement: Entitlement, *, now: datetime) -> PassView:
    return PassView(
        id=entitlement.pk, state=pass_state(entitlement, now=now), holder=holder_label(entitlement.user),
        product=entitlement.product.title, exhibitor_slug=entitlement.exhibitor.slug,
        valid_from=entitlement.valid_from, valid_until=entitlement.valid_until, redeemed_at=entitlement.redeemed_at,
    )


def _passes() -> QuerySet[Entitlement]:
    return (Entitlement.objects.filter(kind=ProductKind.PASS)
            .select_related("user", "product", "exhibitor")
            .only("id", "status", "exhibitor_id", "valid_from", "valid_until", "redeemed_at", "user__email",
                  "user__first_name", "user__last_name", "product__title_en", "product__title_zh_hans", "exhibitor__slug"))


def pass_lookup(*, user: Any, token: str, exhibitor_id: int | None = None, now: datetime | None = None) -> PassView:
    """The pass behind a token, for the booth: holder, product, validity, redeemed or not.

    Raises NotFound for a forged or malformed token, a pass `user` may not act on, or (when
    `exhibitor_id` is given) a pass of another exhibitor than that booth. One query. Reads only.
    """
    from apps.fulfilment.services import pass_token_read

    entitlement_id = pass_token_read(token)
    if entitlement_id is None:
        raise NotFound()
    entitlement = _passes().filter(pk=entitlement_id).first()
    if (entitlement is None or not can_access_exhibitor(user, entitlement.exhibitor_id)
            or (exhibitor_id is not None and entitlement.exhibitor_id != exhibitor_id)):
        raise NotFound()
    return _view(entitlement, now=now or timezone.now())


def pass_roster(*, user: Any, exhibitor: Exhibitor, now: datetime | None = None) -> list[PassView]:
    """The booth's pass list for offline checks: every pass of `exhibitor` not long expired.

    Raises NotFound when `user` may not act for the exhibitor. One query, at most ROSTER_LIMIT
    passes (the newest, returned oldest first).
    """
    if not can_access_exhibitor(user, exhibitor.pk):
        raise NotFound()
    now = now or timezone.now()
    rows = list(_passes().filter(exhibitor_id=exhibitor.pk)
                .exclude(valid_until__lt=now - ROSTER_EXPIRED_GRACE)
                .order_by("-id")[:ROSTER_LIMIT])
    return [_view(entitlement, now=now) for entitlement in reversed(rows)]
