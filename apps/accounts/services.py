"""Writes for accounts: verified memberships of eligibility groups (operators)."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import EligibilityGroup, EligibilityMembership, User
from marketplace.errors import PermissionDenied
from marketplace.tenancy import is_operator
from marketplace.transitions import record_transition


def eligibility_verify(*, user: User, group: EligibilityGroup, actor: Any, valid_until: datetime | None = None,
                       note: str = "") -> EligibilityMembership:
    """Record that an operator verified `user`'s membership of `group` (audited).

    Raises PermissionDenied unless `actor` is an operator. Idempotent: verifying again updates
    the validity and note of the one membership row (a unique constraint keeps it one)."""
    if not is_operator(actor):
        raise PermissionDenied()
    now = timezone.now()
    with transaction.atomic():
        membership, created = EligibilityMembership.objects.update_or_create(
            user=user, group=group,
            defaults={"verified_by": actor, "verified_at": now, "valid_until": valid_until, "note": note[:200]},
        )
        record_transition(membership, name="verify", from_state="" if created else "verified", to_state="verified",
                          actor=actor, payload={"group": group.slug, "user_id": user.pk,
                                                "valid_until": valid_until.isoformat() if valid_until else None})
    return membership


def eligibility_revoke(*, membership_id: int, actor: Any) -> bool:
    """Remove a verified membership (audited). Raises PermissionDenied unless an operator.
    Idempotent: revoking a membership that is gone returns False."""
    if not is_operator(actor):
        raise PermissionDenied()
    with transaction.atomic():
        membership = EligibilityMembership.objects.select_for_update().select_related("group").filter(pk=membership_id).first()
        if membership is None:
            return False
        record_transition(EligibilityMembership, membership.pk, name="revoke", from_state="verified", to_state="revoked",
                          actor=actor, payload={"group": membership.group.slug, "user_id": membership.user_id})
        membership.delete()
    return True
