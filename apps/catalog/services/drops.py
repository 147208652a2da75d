"""The drops' rules at order placement (ballot winners, holder priority) and who holds which edition.

Order placement (apps.orders.services.placement, a layer above) calls `drops_placement_check`
before it validates the sale window, and `drops_claim_ballot_wins` inside its claim transaction.
Neither reads nor locks inventory: a refusal here never touches the edition rows.

Holder priority needs to know who holds a collectible now. Fulfilment owns entitlements, but it
sits above orders and catalog, which may not import it; so fulfilment keeps `EditionHolding` (a
catalog table: edition -> current holder) up to date through the functions below, in the same
transaction as it issues, gives or revokes an edition. An order line alone would not do: a gift
moves the edition to someone who never ordered it, and a refund takes it away from the buyer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import structlog
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.catalog.errors import BallotRequired
from apps.catalog.models import BallotEntry, BallotEntryStatus, EditionHolding, HolderPriority, Product, ProductKind, SaleMode
from marketplace.errors import LimitExceeded, ValidationFailed
from marketplace.transitions import record_transition

logger = structlog.get_logger(__name__)


def drops_placement_check(*, user_id: int, products: Mapping[int, Product], units: Mapping[int, int],
                          now: datetime) -> frozenset[int]:
    """Refuse what the drops' rules forbid; return the ids of products `user_id` may order before
    their `sale_starts_at` (the caller skips its sale-window check for those only; every one of
    them is before its start, hence before its end too).

    - A ballot product: only a winner whose purchase window is open, one unit (raises
      BallotRequired, LimitExceeded for more than one). Allowed before the sale start too.
    - A first-come product with holder priority, before its sale start: allowed from
      `priority.starts_at` to holders of a listed collectible; anyone else is left to the
      caller's `not_on_sale`.

    Reads only (no lock). Products without a ballot cost no query when the caller joined
    `priority` (order placement does): "not on sale yet" stays a one-query answer.
    """
    early: set[int] = set()
    ballot_ids = sorted(pid for pid, p in products.items() if p.sale_mode == SaleMode.BALLOT and pid in units)
    for pid in ballot_ids:
        if units[pid] != 1:
            raise LimitExceeded(_("A ballot win buys one edition."))
    if ballot_ids:
        winning = set(BallotEntry.objects.filter(
            ballot__product_id__in=ballot_ids, user_id=user_id, status=BallotEntryStatus.WON, purchase_by__gt=now,
        ).values_list("ballot__product_id", flat=True))
        if missing := [pid for pid in ballot_ids if pid not in winning]:
            raise BallotRequired(_("%(product)s is sold by ballot: only a winner may order it, inside their purchase window.")
                                 % {"product": products[missing[0]].title})
        for pid in ballot_ids:
            starts = products[pid].sale_starts_at
            if starts is not None and now < starts:
                early.add(pid)
    for pid, product in sorted(products.items()):
        if (pid not in units or product.sale_mode == SaleMode.BALLOT or product.sale_starts_at is None
                or now >= product.sale_starts_at):
            continue
        priority = _priority(product)
        if priority is not None and priority.starts_at <= now and _holds_any(user_id=user_id, priority=priority):
            early.add(pid)
    return frozenset(early)


def _priority(product: Product) -> HolderPriority | None:
    # Joined by the caller's select_related("priority") (then no query), else read here.
    if Product.priority.is_cached(product):  # type: ignore[attr-defined]
        return getattr(product, "priority", None)
    return HolderPriority.objects.filter(product=product).first()


def _holds_any(*, user_id: int, priority: HolderPriority) -> bool:
    """Whether the user holds an edition of a collectible listed by `priority` (one query)."""
    listed = HolderPriority.holders_of.through.objects.filter(holderpriority_id=priority.pk).values("product_id")
    return EditionHolding.objects.filter(user_id=user_id, edition__product_id__in=listed).exists()


def drops_claim_ballot_wins(*, user_id: int, products: Mapping[int, Product], now: datetime) -> None:
    """Mark the user's open wins on the ballot products among `products` claimed: call it inside
    the transaction that places the order, so the claim and the order commit (or roll back)
    together. Products sold first-come cost nothing.

    One conditional UPDATE per product (`WHERE status = won AND purchase_by > now`): of two
    concurrent orders by one winner exactly one claims; the other raises BallotRequired (its
    transaction rolls back; nothing held). A win is one order: once claimed it stays claimed
    even if that order is later cancelled or expires (its edition then goes back to the pool
    and the offers sweep passes it on). Not idempotent (a second claim raises).
    """
    for pid in sorted(pid for pid, product in products.items() if product.sale_mode == SaleMode.BALLOT):
        entry = (BallotEntry.objects.filter(ballot__product_id=pid, user_id=user_id)
                 .values_list("pk", flat=True).first())
        claimed = entry is not None and BallotEntry.objects.filter(
            pk=entry, status=BallotEntryStatus.WON, purchase_by__gt=now,
        ).update(status=BallotEntryStatus.CLAIMED, claimed_at=now)
        if not claimed:
            raise BallotRequired()
        record_transition(BallotEntry, entry, name="claim", from_state=BallotEntryStatus.WON,
                          to_state=BallotEntryStatus.CLAIMED, actor=None, payload={"user_id": user_id})


# --- Holdings (written by fulfilment) ----------------------------------------------------------------


def edition_holdings_set(*, holders: Mapping[int, int], now: datetime) -> None:
    """Record `holders` ({edition id: user id}) as the editions' current holders (issue or gift).

    Call it in the transaction that issues or gives the editions. Idempotent (an upsert)."""
    if not holders:
        return
    EditionHolding.objects.bulk_create(
        [EditionHolding(edition_id=edition_id, user_id=user_id, since=now) for edition_id, user_id in sorted(holders.items())],
        update_conflicts=True, unique_fields=["edition"], update_fields=["user", "since"],
    )


def edition_holdings_clear(*, edition_ids: Iterable[int]) -> int:
    """Forget the holders of these editions (revoked). Idempotent. Returns rows deleted."""
    ids = sorted(set(edition_ids))
    if not ids:
        return 0
    deleted, _ = EditionHolding.objects.filter(edition_id__in=ids).delete()
    return deleted


# --- Holder priority (set up by operators and the product's exhibitor staff) ---------------------------


def holder_priority_save(*, product: Product, starts_at: datetime, holders_of: Iterable[Product],
                         priority: HolderPriority | None = None) -> HolderPriority:
    """Create or change the holder priority of a first-come product: holders of any collectible
    in `holders_of` may order it from `starts_at`, before its `sale_starts_at`.

    Raises ValidationFailed: a ballot product (the ballot decides who buys), no sale start, a
    start not before the sale start, no collectible listed, a non-collectible listed, the product
    itself listed. Idempotent for the same arguments. Tenancy is the caller's (the admin scopes
    the product; any public collectible may be listed, its holders are not disclosed).
    """
    listed = list(holders_of)
    if product.sale_mode == SaleMode.BALLOT:
        raise ValidationFailed(_("A ballot decides who may buy this product; holder priority does not apply."), attr="product")
    if product.sale_starts_at is None or starts_at >= product.sale_starts_at:
        raise ValidationFailed(_("Holder priority must start before the product's sale start."), attr="starts_at")
    if not listed:
        raise ValidationFailed(_("List at least one collectible whose holders get priority."), attr="holders_of")
    if any(p.kind != ProductKind.COLLECTIBLE or p.pk == product.pk for p in listed):
        raise ValidationFailed(_("Only other collectibles can give priority."), attr="holders_of")
    with transaction.atomic():
        if priority is None:
            priority, _created = HolderPriority.objects.update_or_create(product=product, defaults={"starts_at": starts_at})
        else:
            priority.starts_at = starts_at
            priority.save(update_fields=["starts_at", "updated_at"])
        priority.holders_of.set(listed)
    return priority


def holder_priority_delete(*, priority: HolderPriority) -> None:
    """Remove a product's holder priority: everyone waits for its sale start again."""
    priority.delete()
