"""A voucher on an order: planned before placement's transaction, applied inside it, used when the
order is paid, given back when it is cancelled or expires, and settled by a refund.

Every status move of a voucher is a conditional UPDATE on its current status (the concurrency
guarantee: one voucher, one open order) followed by its audit row (`record_transition`). The
callers in orders run these under the order's row lock, in the order's transition.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Product
from apps.vouchers.errors import VoucherNotApplicable
from apps.vouchers.models import Campaign, Redemption, RedemptionStatus, RefundRule, Voucher, VoucherStatus
from apps.vouchers.services.claims import campaign_clear_exhausted
from marketplace.transitions import record_transition, record_transitions

logger = structlog.get_logger(__name__)

@dataclass(frozen=True)
class VoucherLine:
    """An order line as the voucher sees it: `key` is the line's id; `bundle_id` the bundle product
    a component line was sold in (a bundle is ordered as its components' lines)."""

    key: int
    product_id: int
    exhibitor_id: int
    total: int
    bundle_id: int | None = None


@dataclass(frozen=True)
class VoucherPlan:
    """What a voucher takes off an order, and how that splits over its in-scope lines."""

    discount: int
    line_shares: dict[int, int] = field(default_factory=dict)
    exhibitor_shares: dict[int, int] = field(default_factory=dict)


def split_largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` in proportion to `weights` (integers, exact: the parts add up to `amount`),
    the leftover units going to the largest remainders, ties to the earlier weight."""
    total = sum(weights)
    if total <= 0:
        return [0 for _ in weights]
    parts = [amount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def _get_usable(voucher_id: int, user_id: int, currency: str, now: datetime) -> Voucher:
    voucher = Voucher.objects.select_related("campaign").filter(pk=voucher_id, user_id=user_id).first()
    if voucher is None:
        raise VoucherNotApplicable(_("No such voucher."))
    if voucher.status != VoucherStatus.AVAILABLE or voucher.expires_at <= now:
        status = VoucherStatus.EXPIRED if voucher.status == VoucherStatus.AVAILABLE else VoucherStatus(voucher.status)
        raise VoucherNotApplicable(_("This voucher is %(status)s.") % {"status": str(status.label).lower()})
    if voucher.campaign.currency != currency:
        raise VoucherNotApplicable(_("This voucher is in %(currency)s.") % {"currency": voucher.campaign.currency})
    return voucher


def voucher_precheck(*, voucher_id: int, user_id: int, currency: str, now: datetime | None = None) -> None:
    """Refuse early a voucher that is unknown or another shopper's (one answer for both), not
    available (applied, used, expired) or in another currency: VoucherNotApplicable. One query."""
    _get_usable(voucher_id, user_id, currency, now or timezone.now())


def voucher_plan_for(*, campaign: Campaign, lines: Sequence[VoucherLine]) -> VoucherPlan:
    """The discount (the face value) and its split over the in-scope lines (largest remainder, by
    line total) and their exhibitors. Raises VoucherNotApplicable when the in-scope goods are below
    the minimum spend. Reads the scope (3 queries).

    A bundle's component line is in a kind or product scope both as itself and as its bundle: a
    campaign for kind `bundle` (or for one bundle) covers the bundle's lines; an exhibitor scope
    looks at each component's own exhibitor, who is paid for it."""
    exhibitor_ids = set(campaign.scope_exhibitors.values_list("id", flat=True))
    product_ids = set(campaign.scope_products.values_list("id", flat=True))
    sold_as = {line.key: {line.product_id} | ({line.bundle_id} if line.bundle_id else set()) for line in lines}
    kinds = dict(Product.objects.filter(pk__in=set().union(*sold_as.values())).values_list("id", "kind"))
    in_scope = [line for line in lines
                if (not exhibitor_ids or line.exhibitor_id in exhibitor_ids)
                and (not campaign.scope_kinds or any(kinds.get(pid) in campaign.scope_kinds for pid in sold_as[line.key]))
                and (not product_ids or not product_ids.isdisjoint(sold_as[line.key]))]
    eligible = sum(line.total for line in in_scope)
    if eligible < campaign.min_spend or eligible <= 0:
        raise VoucherNotApplicable(_("This voucher needs %(min)s of goods it covers in the order (minor units); "
                                     "the order has %(eligible)s.") % {"min": campaign.min_spend, "eligible": eligible})
    discount = min(campaign.face_value, eligible)
    shares = split_largest_remainder(discount, [line.total for line in in_scope])
    by_exhibitor: dict[int, int] = {}
    for line, share in zip(in_scope, shares, strict=True):
        if share:
            by_exhibitor[line.exhibitor_id] = by_exhibitor.get(line.exhibitor_id, 0) + share
    return VoucherPlan(discount=discount,
                       line_shares={line.key: share for line, share in zip(in_scope, shares, strict=True) if share},
                       exhibitor_shares=by_exhibitor)


def voucher_apply(*, voucher_id: int, user_id: int, order_id: Any, currency: str, lines: Sequence[VoucherLine],
                  now: datetime | None = None) -> Redemption:
    """Take the shopper's voucher for an order being placed: available → applied (a conditional
    UPDATE, the guarantee that a voucher serves one open order), and record the redemption with
    the discount's split. Must run inside placement's transaction, after the order's lines are
    written. Raises VoucherNotApplicable (see `voucher_precheck` and `voucher_plan_for`, or used
    meanwhile); the placement then rolls back. Not idempotent (one redemption per order: unique).
    """
    now = now or timezone.now()
    voucher = _get_usable(voucher_id, user_id, currency, now)
    plan = voucher_plan_for(campaign=voucher.campaign, lines=lines)
    taken = Voucher.objects.filter(pk=voucher.pk, user_id=user_id, status=VoucherStatus.AVAILABLE,
                                   expires_at__gt=now).update(status=VoucherStatus.APPLIED, updated_at=now)
    if not taken:
        raise VoucherNotApplicable(_("This voucher was used or expired meanwhile."))
    redemption = Redemption.objects.create(
        voucher_id=voucher.pk, campaign_id=voucher.campaign_id, order_id=order_id, discount=plan.discount,
        currency=currency, line_shares={str(key): share for key, share in sorted(plan.line_shares.items())},
        exhibitor_shares={str(eid): share for eid, share in sorted(plan.exhibitor_shares.items())},
    )
    redemption.campaign = voucher.campaign
    record_transition(Voucher, voucher.pk, name="apply", from_state=VoucherStatus.AVAILABLE, to_state=VoucherStatus.APPLIED,
                      payload={"order_id": str(order_id), "discount": plan.discount})
    return redemption


def _move(voucher_id: int, *, name: str, sources: Sequence[str], to: str, now: datetime, order_id: Any,
          extra: Mapping[str, Any] | None = None) -> bool:
    current = Voucher.objects.filter(pk=voucher_id).values_list("status", flat=True).first()
    moved = Voucher.objects.filter(pk=voucher_id, status__in=list(sources)).update(status=to, updated_at=now, **(extra or {}))
    if moved:
        record_transition(Voucher, voucher_id, name=name, from_state=current, to_state=to,
                          payload={"order_id": str(order_id)})
    return bool(moved)


def _redemption_move(redemption: Redemption, *, to: str, now: datetime, name: str) -> None:
    """Move a redemption (the caller holds the order's lock) and write its audit row."""
    Redemption.objects.filter(pk=redemption.pk).update(status=to, updated_at=now)
    record_transition(Redemption, redemption.pk, name=name, from_state=redemption.status, to_state=to,
                      payload={"order_id": str(redemption.order_id)})


def voucher_mark_used(*, order_id: Any, now: datetime | None = None) -> bool:
    """The order was paid: its voucher becomes used (applied → used). Run under the order's lock
    in the pay transition. Returns False when the order has no applied voucher. Idempotent."""
    now = now or timezone.now()
    redemption = Redemption.objects.filter(order_id=order_id, status=RedemptionStatus.APPLIED).first()
    if redemption is None:
        return False
    _move(redemption.voucher_id, name="use", sources=[VoucherStatus.APPLIED], to=VoucherStatus.USED, now=now,
          order_id=order_id)
    _redemption_move(redemption, to=RedemptionStatus.USED, now=now, name="use")
    return True


def _return_to_pool(campaign_id: int, count: int) -> None:
    Campaign.objects.filter(pk=campaign_id, returns_to_pool=True).update(returned_count=F("returned_count") + count)
    transaction.on_commit(lambda: campaign_clear_exhausted(campaign_ids=[campaign_id]))


def voucher_release_for_order(*, order_id: Any, now: datetime | None = None) -> dict[str, Any]:
    """The order was cancelled or expired: give its voucher back (applied → available while it is
    valid; → expired otherwise, its value back in the pool if the campaign says so). Run under
    the order's lock in the cancel/expire transition. Idempotent; returns the audit payload."""
    now = now or timezone.now()
    redemption = (Redemption.objects.select_related("voucher__campaign")
                  .filter(order_id=order_id, status=RedemptionStatus.APPLIED).first())
    if redemption is None:
        return {}
    voucher = redemption.voucher
    _redemption_move(redemption, to=RedemptionStatus.RELEASED, now=now, name="release")
    if voucher.expires_at > now:
        _move(voucher.pk, name="release", sources=[VoucherStatus.APPLIED], to=VoucherStatus.AVAILABLE, now=now,
              order_id=order_id)
        return {"voucher_returned": voucher.code}
    pooled = voucher.campaign.returns_to_pool
    if _move(voucher.pk, name="expire", sources=[VoucherStatus.APPLIED], to=VoucherStatus.EXPIRED, now=now,
             order_id=order_id, extra={"returned_to_pool": pooled}) and pooled:
        _return_to_pool(voucher.campaign_id, 1)
    return {"voucher_expired": voucher.code}


def voucher_reclaim_for_order(*, order_id: Any, now: datetime | None = None) -> dict[str, Any]:
    """A late payment for an expired order whose voucher was given back: take the voucher again
    and mark it used (the shopper paid the discounted total). Raises VoucherNotApplicable when it
    was applied elsewhere, used, or expired back into the pool meanwhile (the caller refunds the
    payment). Run under the order's lock in the late-pay transition. Idempotent."""
    now = now or timezone.now()
    redemption = Redemption.objects.filter(order_id=order_id, status=RedemptionStatus.RELEASED).first()
    if redemption is None:
        return {}
    taken = (Voucher.objects.filter(pk=redemption.voucher_id, status=VoucherStatus.AVAILABLE)
             | Voucher.objects.filter(pk=redemption.voucher_id, status=VoucherStatus.EXPIRED, returned_to_pool=False))
    current = taken.values_list("status", flat=True).first()
    if current is None or not Voucher.objects.filter(pk=redemption.voucher_id, status=current).update(
            status=VoucherStatus.USED, updated_at=now):
        raise VoucherNotApplicable(_("The order's voucher was used elsewhere meanwhile."))
    record_transition(Voucher, redemption.voucher_id, name="use_late", from_state=current, to_state=VoucherStatus.USED,
                      payload={"order_id": str(order_id)})
    _redemption_move(redemption, to=RedemptionStatus.USED, now=now, name="use_late")
    return {"voucher_reclaimed": redemption.voucher_id}


def voucher_after_full_refund(*, order_id: Any, now: datetime | None = None) -> bool:
    """The order was refunded in full: its redemption is closed and, when the campaign's rule is
    `return_voucher` and the voucher is still valid, the voucher is available again. The subsidy
    itself goes back to the funder in payments' ledger. Idempotent; returns whether the voucher
    came back."""
    now = now or timezone.now()
    redemption = (Redemption.objects.select_related("voucher__campaign")
                  .filter(order_id=order_id, status=RedemptionStatus.USED).first())
    if redemption is None:
        return False
    _redemption_move(redemption, to=RedemptionStatus.REFUNDED, now=now, name="refund")
    voucher = redemption.voucher
    if voucher.campaign.refund_rule != RefundRule.RETURN_VOUCHER or voucher.expires_at <= now:
        return False
    return _move(voucher.pk, name="refund_return", sources=[VoucherStatus.USED], to=VoucherStatus.AVAILABLE, now=now,
                 order_id=order_id)


def voucher_subsidy_shares(*, order_id: Any) -> dict[int, int]:
    """{exhibitor id: subsidy} the order's voucher owes each exhibitor (empty without a used voucher)."""
    shares = (Redemption.objects.filter(order_id=order_id, status__in=[RedemptionStatus.USED, RedemptionStatus.REFUNDED])
              .values_list("exhibitor_shares", flat=True).first())
    return {int(eid): int(amount) for eid, amount in (shares or {}).items()}


def vouchers_expire_due(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Mark available vouchers past their validity expired; a campaign that returns expired value
    to the pool gets them back in its budget. Each batch is locked with SKIP LOCKED (a voucher
    being applied right now is left to that order) and moved by one UPDATE. Idempotent; safe to
    overlap; returns how many expired."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            rows = list(Voucher.objects.filter(status=VoucherStatus.AVAILABLE, expires_at__lte=now)
                        .order_by("expires_at").select_for_update(skip_locked=True, of=("self",))
                        .values_list("pk", "campaign_id", "campaign__returns_to_pool")[:batch_size])
            if not rows:
                return expired
            pooled: dict[int, list[int]] = {}
            for pk, campaign_id, returns in rows:
                if returns:
                    pooled.setdefault(campaign_id, []).append(pk)
            Voucher.objects.filter(pk__in=[r[0] for r in rows]).update(status=VoucherStatus.EXPIRED, updated_at=now)
            Voucher.objects.filter(pk__in=[pk for pks in pooled.values() for pk in pks]).update(returned_to_pool=True)
            for campaign_id, pks in sorted(pooled.items()):
                _return_to_pool(campaign_id, len(pks))
            record_transitions(Voucher, [r[0] for r in rows], name="expire", from_state=VoucherStatus.AVAILABLE,
                               to_state=VoucherStatus.EXPIRED, reason="validity ended")
        expired += len(rows)
        if len(rows) < batch_size:
            return expired
