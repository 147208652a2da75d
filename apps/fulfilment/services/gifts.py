"""Gifting collectibles (API.md "Gifting collectibles"): an owner gives an edition to another
verified shopper after a holding period. No price travels with it, and nothing is sold: no order,
payment or ledger row is written.

A gift keeps the certificate: the recipient gets a new entitlement row for the same unit, edition,
serial, certificate code and signature (the signature covers the issue time, not the holder, so
it stays valid), and the giver's row becomes `transferred` (kept for their library and for the
certificate's provenance; it shows no secrets, apps.fulfilment.selectors.library_item_access).

Holding periods (settings FULFILMENT): GIFT_HOLD_FIRST after the purchase (the first holder),
GIFT_HOLD_AFTER_TRANSFER after receiving a gift, as the large Chinese platforms do (180 days and
2 years by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import ProductKind
from apps.catalog.services import drops
from apps.fulfilment.errors import HoldingPeriod, RecipientNotEligible
from apps.fulfilment.models import Entitlement, EntitlementStatus, Gift, new_nonce
from apps.orders.models import Order, OrderStatus
from marketplace import events
from marketplace.errors import InvalidState, NotFound
from marketplace.transitions import record_transition, transition

logger = structlog.get_logger(__name__)


def entitlement_transferable_at(entitlement: Entitlement) -> datetime | None:
    """When the holder may give this item: None for what cannot be given (not a collectible)."""
    if entitlement.kind != ProductKind.COLLECTIBLE:
        return None
    if entitlement.acquired_at is not None:  # received as a gift
        return entitlement.acquired_at + cast(timedelta, settings.FULFILMENT["GIFT_HOLD_AFTER_TRANSFER"])
    return entitlement.created_at + cast(timedelta, settings.FULFILMENT["GIFT_HOLD_FIRST"])


def _recipient(*, to_email: str, giver: Any) -> Any:
    """The active user with this verified email address. One answer for unknown, unverified and
    inactive alike (RecipientNotEligible), so the endpoint does not tell which."""
    address = (EmailAddress.objects.filter(email__iexact=to_email.strip(), verified=True, user__is_active=True)
               .select_related("user").first())
    if address is None:
        raise RecipientNotEligible()
    if address.user_id == giver.pk:
        raise RecipientNotEligible(_("You already hold this item."))
    return address.user


def entitlement_transfer(*, entitlement_id: int, user: Any, to_email: str, now: datetime | None = None) -> Gift:
    """Give the collectible `entitlement_id` of `user` to the verified shopper `to_email`.

    Locks the unit's order row, then the entitlement (the order the revocation of a refund and
    fulfilment lock in), so a gift and a refund of the same unit serialise: a refunded unit
    cannot be given, and a given unit is revoked from its new holder by a later refund. Raises
    NotFound (not the user's), InvalidState (not a collectible, revoked, already given, its order
    refunded), HoldingPeriod (before `entitlement_transferable_at`) or RecipientNotEligible
    (unknown, unverified or inactive recipient, or the giver). Of two concurrent gifts of the same
    item exactly one succeeds; the other finds it given (InvalidState). Not idempotent by itself
    (the API's Idempotency-Key replays the first response).
    """
    now = now or timezone.now()
    with transaction.atomic():
        order_id = Entitlement.objects.filter(pk=entitlement_id, user_id=user.pk).values_list("order_id", flat=True).first()
        if order_id is None:
            raise NotFound()
        order_status = Order.objects.select_for_update().filter(pk=order_id).values_list("status", flat=True).get()
        entitlement = Entitlement.objects.select_for_update().get(pk=entitlement_id)
        if entitlement.kind != ProductKind.COLLECTIBLE or entitlement.edition_id is None:
            raise InvalidState(_("Only collectibles can be given."))
        if entitlement.status == EntitlementStatus.TRANSFERRED:
            raise InvalidState(_("This item was already given."))
        if entitlement.status != EntitlementStatus.ACTIVE or order_status == OrderStatus.REFUNDED:
            raise InvalidState(_("This item was revoked (refunded); it cannot be given."))
        transferable_at = entitlement_transferable_at(entitlement)
        if transferable_at is not None and now < transferable_at:
            raise HoldingPeriod(_("This item can be given from %(when)s.") % {"when": transferable_at.isoformat()})
        recipient = _recipient(to_email=to_email, giver=user)
        # The giver's row leaves the current set first: the unit and certificate are unique among current rows.
        transition(entitlement, name="transfer", to=EntitlementStatus.TRANSFERRED, allowed_from=[EntitlementStatus.ACTIVE],
                   locked=True, actor=user, also={"transferred_at": now, "nonce": new_nonce()},
                   payload={"to_user_id": recipient.pk})
        received = Entitlement.objects.create(
            user=recipient, order_id=entitlement.order_id, order_line_id=entitlement.order_line_id,
            unit_index=entitlement.unit_index, kind=entitlement.kind, product_id=entitlement.product_id,
            exhibitor_id=entitlement.exhibitor_id, edition_id=entitlement.edition_id, serial=entitlement.serial,
            edition_size=entitlement.edition_size, certificate_code=entitlement.certificate_code,
            certificate_signature=entitlement.certificate_signature, created_at=entitlement.created_at, acquired_at=now,
        )
        gift = Gift.objects.create(from_entitlement=entitlement, to_entitlement=received, from_user=user, to_user=recipient,
                                   created_at=now)
        record_transition(received, name="receive", from_state="", to_state=EntitlementStatus.ACTIVE, actor=user,
                          payload={"gift_id": gift.pk, "from_entitlement_id": entitlement.pk})
        drops.edition_holdings_set(holders={entitlement.edition_id: recipient.pk}, now=now)
        events.emit("gift.received", gift_id=gift.pk, to_user_id=recipient.pk, entitlement_id=received.pk,
                    product_title=received.product.title_en, serial=received.serial,  # type: ignore[attr-defined]
                    edition_size=received.edition_size, certificate_code=received.certificate_code)
    logger.info("entitlement_transferred", gift_id=gift.pk, from_entitlement=entitlement.pk, to_entitlement=received.pk)
    return gift
