"""Creating and changing voucher campaigns (operators; exhibitor staff for their own goods)."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Product
from apps.vouchers.models import Campaign, FunderKind
from apps.vouchers.services.claims import campaign_clear_exhausted
from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.tenancy import exhibitor_ids_for, is_operator
from marketplace.transitions import record_transition

# Terms a claimed voucher carries: fixed once anyone has claimed one.
FIXED_ONCE_CLAIMED = ("currency", "face_value", "min_spend", "funder_kind", "funder_exhibitor_id")


def _check_actor(campaign: Campaign, actor: Any) -> None:
    if is_operator(actor):
        if campaign.funder_kind == FunderKind.EXHIBITOR and campaign.funder_exhibitor_id is None:
            raise ValidationFailed(_("Name the exhibitor that funds this campaign."), attr="funder_exhibitor")
        if campaign.funder_kind != FunderKind.EXHIBITOR:
            campaign.funder_exhibitor = None
        return
    # Exhibitor staff fund campaigns for their own goods only.
    if campaign.funder_kind != FunderKind.EXHIBITOR or campaign.funder_exhibitor_id not in exhibitor_ids_for(actor):
        raise PermissionDenied(_("Exhibitor staff create campaigns funded by their own exhibitor only."))


def campaign_save(*, campaign: Campaign, actor: Any) -> Campaign:
    """Create or update a campaign's own row (the scope is set by `campaign_set_scope`).

    The number of vouchers is budget ÷ face value. Raises PermissionDenied for exhibitor staff
    funding anything but their own exhibitor, ValidationFailed for terms changed after claims
    (currency, face value, minimum spend, funder) or a budget below what is claimed. Audited.
    Idempotent for the same values.
    """
    if campaign.face_value <= 0:
        raise ValidationFailed(_("The face value must be positive."), attr="face_value")
    if campaign.min_spend <= campaign.face_value:
        raise ValidationFailed(_("The minimum spend must be above the face value (e.g. 10 off 20)."), attr="min_spend")
    _check_actor(campaign, actor)
    with transaction.atomic():
        before = Campaign.objects.select_for_update().filter(pk=campaign.pk).first() if campaign.pk else None
        if before is not None and before.claimed_count:
            changed = [name for name in FIXED_ONCE_CLAIMED if getattr(before, name) != getattr(campaign, name)]
            if changed:
                raise ValidationFailed(_("Vouchers were claimed: the currency, face value, minimum spend and funder "
                                         "can no longer change."), attr=changed[0].removesuffix("_id"))
        campaign.quantity = campaign.budget // campaign.face_value
        if before is not None:
            # The counters are the claims' own; never overwrite them with a stale form copy.
            campaign.claimed_count, campaign.returned_count = before.claimed_count, before.returned_count
            if campaign.quantity + campaign.returned_count < campaign.claimed_count:
                raise ValidationFailed(_("The budget cannot go below what shoppers have already claimed."), attr="budget")
        if before is None:
            campaign.created_by = actor if getattr(actor, "pk", None) else None
        campaign.save()
        record_transition(campaign, name="create" if before is None else "change", from_state="" if before is None else "saved",
                          to_state="saved", actor=actor,
                          payload={"quantity": campaign.quantity, "face_value": campaign.face_value,
                                   "min_spend": campaign.min_spend, "is_active": campaign.is_active})
        transaction.on_commit(lambda: campaign_clear_exhausted(campaign_ids=[campaign.pk]))
    return campaign


def campaign_set_scope(*, campaign: Campaign, actor: Any, exhibitor_ids: Iterable[int], product_ids: Iterable[int]) -> None:
    """Set which exhibitors and products the campaign covers (kinds are a column). An exhibitor's
    own campaign covers that exhibitor only, and only its products. Raises PermissionDenied for
    another exhibitor's products. Idempotent."""
    exhibitor_ids, product_ids = set(exhibitor_ids), set(product_ids)
    if campaign.funder_kind == FunderKind.EXHIBITOR:
        exhibitor_ids = {campaign.funder_exhibitor_id} if campaign.funder_exhibitor_id else set()
        foreign = Product.objects.filter(pk__in=product_ids).exclude(exhibitor_id=campaign.funder_exhibitor_id or 0)
        if foreign.exists():
            raise PermissionDenied(_("An exhibitor's campaign covers that exhibitor's own products only."))
    if not is_operator(actor) and campaign.funder_exhibitor_id not in exhibitor_ids_for(actor):
        raise PermissionDenied()
    campaign.scope_exhibitors.set(sorted(exhibitor_ids))
    campaign.scope_products.set(sorted(product_ids))
