"""Revocation: on refund, revoke every entitlement of the refunded lines and give their inventory back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.catalog import services as catalog_services
from apps.catalog.models import ProductKind
from apps.catalog.services import drops as catalog_drops
from apps.fulfilment.models import Entitlement, EntitlementStatus, Gift, new_nonce
from apps.orders import services as order_services
from apps.orders.models import Order, OrderLine
from marketplace import events
from marketplace.tasks import enqueue_on_commit
from marketplace.transitions import record_transitions

logger = logging.getLogger(__name__)


def entitlements_revoke_schedule(*, order_line_ids: Iterable[int], reason: str) -> None:
    """Schedule the revocation of every entitlement of these order lines after commit.

    Call it in the transaction that records the refund. Enqueues `fulfilment.revoke_lines`
    on commit (broker errors logged, not raised). Revocation is idempotent, so scheduling twice is
    harmless. Releasing catalog inventory for the lines is part of the revocation.
    """
    ids = sorted({int(i) for i in order_line_ids})
    if not ids:
        return
    enqueue_on_commit("fulfilment.revoke_lines", order_line_ids=ids, reason=reason)


def entitlements_revoke_lines(*, order_line_ids: Iterable[int], reason: str, now: datetime | None = None) -> int:
    """Revoke every unit of these order lines and give their inventory back, once.

    Certificates become invalid, download links and access links die (nonce replaced), passes
    cannot be redeemed, bookings release their slot place, editions go back to the exhibitor
    (available), stock comes back. Licence keys stay assigned (never reissued). Units never
    fulfilled get a revoked row, so a late fulfilment cannot deliver them. Locks the orders (same
    lock as fulfilment). Idempotent: only units changing state now release inventory. Returns
    the number of units revoked by this call. Tells nobody: the exhibitors' sale_refunded is
    written by notifications when the refund succeeds ("refund.succeeded").
    """
    now = now or timezone.now()
    ids = sorted({int(i) for i in order_line_ids})
    if not ids:
        return 0
    with transaction.atomic():
        order_ids = sorted({str(o) for o in OrderLine.objects.filter(id__in=ids).values_list("order_id", flat=True)})
        orders = {str(o.pk): o for o in Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk")}
        lines = list(OrderLine.objects.filter(id__in=ids).select_related("product").order_by("id"))
        # The current row of each unit: a given unit's giver row (transferred) stays as it is; the
        # recipient's row is the one revoked.
        units = {(u.order_line_id, u.unit_index): u for u in Entitlement.objects.select_for_update()
                 .filter(order_line_id__in=ids).exclude(status=EntitlementStatus.TRANSFERRED)}
        to_revoke: list[int] = []
        stubs: list[Entitlement] = []
        changed_lines: dict[int, int] = {}
        for line in lines:
            for index in range(line.quantity):
                unit = units.get((line.pk, index))
                if unit is None:
                    stubs.append(Entitlement(
                        user_id=orders[str(line.order_id)].user_id, order_id=line.order_id, order_line=line, unit_index=index,
                        kind=line.product.kind, product=line.product, exhibitor_id=line.exhibitor_id, slot_id=line.slot_id,
                        status=EntitlementStatus.REVOKED, revoked_at=now, revoke_reason=reason[:40]))
                elif unit.status == EntitlementStatus.ACTIVE:
                    to_revoke.append(unit.pk)
                else:
                    continue
                changed_lines[line.pk] = changed_lines.get(line.pk, 0) + 1
        if to_revoke:
            # A fresh nonce kills every download token and access link minted before.
            for pk in to_revoke:
                Entitlement.objects.filter(pk=pk).update(status=EntitlementStatus.REVOKED, revoked_at=now,
                                                         revoke_reason=reason[:40], nonce=new_nonce())
            # The units were locked above and seen active: these updates matched; audit them.
            record_transitions(Entitlement, to_revoke, name="revoke", from_state=EntitlementStatus.ACTIVE,
                               to_state=EntitlementStatus.REVOKED, reason=reason)
            revoked_now = set(to_revoke)
            _tell_gift_recipients(units=[u for u in units.values() if u.pk in revoked_now], reason=reason,
                                  titles={line.pk: line.product.title_en for line in lines})  # type: ignore[attr-defined]
        if stubs:
            Entitlement.objects.bulk_create(stubs)
            record_transitions(Entitlement, [stub.pk for stub in stubs], name="revoke", from_state="",
                               to_state=EntitlementStatus.REVOKED, reason=reason, payload={"never_fulfilled": True})
        slots: dict[int, int] = {}
        stock: dict[int, int] = {}
        collectible_lines: list[int] = []
        for line in lines:
            count = changed_lines.get(line.pk, 0)
            if not count:
                continue
            if line.product.kind == ProductKind.COLLECTIBLE:
                collectible_lines.append(line.pk)
            if line.slot_id is not None:
                slots[line.slot_id] = slots.get(line.slot_id, 0) + count
            if line.stock_held:
                stock[line.product_id] = stock.get(line.product_id, 0) + min(count, line.stock_held)
        edition_ids = order_services.order_lines_unlink_editions(line_ids=collectible_lines) if collectible_lines else []
        if edition_ids:
            catalog_drops.edition_holdings_clear(edition_ids=edition_ids)
            catalog_services.inventory_restock_editions(edition_ids=edition_ids)
        if slots or stock:
            catalog_services.inventory_release(slots=slots, stock=stock)
        product_ids = sorted({line.product_id for line in lines if line.pk in changed_lines})
        slot_ids = sorted(slots)
        transaction.on_commit(lambda: catalog_services.inventory_clear_flags(product_ids=product_ids, slot_ids=slot_ids))
    revoked = sum(changed_lines.values())
    logger.info("revoked %s units of lines %s (%s)", revoked, ids, reason)
    return revoked


def _tell_gift_recipients(*, units: list[Entitlement], reason: str, titles: dict[int, str]) -> None:
    """A refund of the original purchase takes a given collectible back from whoever holds it
    now: each recipient is told ("gift.revoked"; notifications writes the message in this
    transaction). Only collectibles can be given, so other kinds cost no query."""
    collectibles = [unit.pk for unit in units if unit.kind == ProductKind.COLLECTIBLE]
    if not collectibles:
        return
    by_unit = {unit.pk: unit for unit in units}
    for gift_id, to_entitlement_id, to_user_id in (Gift.objects.filter(to_entitlement_id__in=collectibles)
                                                   .values_list("pk", "to_entitlement_id", "to_user_id")):
        unit = by_unit[to_entitlement_id]
        events.emit("gift.revoked", gift_id=gift_id, to_user_id=to_user_id, entitlement_id=unit.pk,
                    product_title=titles[unit.order_line_id], serial=unit.serial, edition_size=unit.edition_size,
                    reason=reason)
