"""The voucher funder's subsidy in the ledger (API.md "Vouchers": exhibitors are paid on the
undiscounted price; the funder's subsidy is its own movement).

When an order with a voucher is paid, the discount is written as `subsidy` rows, one per exhibitor
it goes to (the split fixed when the voucher was applied), keyed `subsidy:<order>:<exhibitor>` so
it is never written twice. Per order: capture + subsidy = transfer − transfer_reversal +
commission + refund.

Refunds follow one rule, whatever the campaign: the shopper gets back what they paid for the
refunded part, the exhibitor gives back the goods' value, and the funder gets back the subsidy on
it (negative `subsidy` rows keyed `subsidy_return:<refund>:<exhibitor>`). Per exhibitor, the
subsidy given back after refunding goods worth g (of G sold, with a subsidy D) is ⌊D·g / G⌋ in
total, so a full refund returns exactly D. (Whether the voucher itself comes back on a full
refund is the campaign's `refund_rule`, apps.vouchers.)
"""

from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from apps.payments.models import RefundAllocation, RefundKind, RefundStatus
from apps.payments.services.common import ledger_write
from apps.vouchers import services as vouchers
from marketplace.errors import InvalidState


def subsidy_record_for_order(*, order_id: Any, currency: str) -> int:
    """Write the order's subsidy rows once its voucher is used (the order just became paid, in
    the same transaction). Idempotent on the rows' keys. Returns the subsidy (0 without voucher)."""
    shares = vouchers.voucher_subsidy_shares(order_id=order_id)
    for exhibitor_id, amount in sorted(shares.items()):
        ledger_write(key=f"subsidy:{order_id}:{exhibitor_id}", kind="subsidy", order_id=order_id, amount=amount,
                     currency=currency, exhibitor_id=exhibitor_id)
    return sum(shares.values())


def subsidy_return_for_refund(*, refund_id: int, order_id: Any, currency: str, returned: dict[int, int]) -> None:
    """Write what a succeeded refund gives back to the funder ({exhibitor id: subsidy}).
    Idempotent on the rows' keys."""
    for exhibitor_id, amount in sorted(returned.items()):
        if amount > 0:
            ledger_write(key=f"subsidy_return:{refund_id}:{exhibitor_id}", kind="subsidy", order_id=order_id,
                         amount=-amount, currency=currency, exhibitor_id=exhibitor_id)


def _subsidy_after(share: int, gross: int, goods: int) -> int:
    """Subsidy given back in total once `goods` of `gross` are refunded (⌊share·goods / gross⌋)."""
    return share * min(goods, gross) // gross if gross > 0 else 0


def subsidy_for_goods(*, share: int, gross: int, done_goods: int, done_subsidy: int, goods: int) -> int:
    """Subsidy to give back when refunding `goods` more of an exhibitor's sale (never negative,
    never more than the goods, never past the exhibitor's share)."""
    due = _subsidy_after(share, gross, done_goods + goods) - done_subsidy
    return max(0, min(due, goods, share - done_subsidy))


def goods_for_paid_amount(*, paid: int, share: int, gross: int, done_goods: int, done_subsidy: int) -> int:
    """The goods' value whose refund gives the shopper exactly `paid` back (the most goods for
    that amount, so refunding all that is left takes back all the goods). Preconditions: `paid`
    is at most what the shopper has left to get back on this exhibitor's part."""
    left = gross - done_goods

    def paid_for(goods: int) -> int:
        return goods - subsidy_for_goods(share=share, gross=gross, done_goods=done_goods, done_subsidy=done_subsidy,
                                         goods=goods)

    if paid >= paid_for(left):
        return left
    low, high = 0, left  # paid_for is non-decreasing by steps of 0 or 1: find the last goods with paid_for <= paid
    while low < high:
        middle = (low + high + 1) // 2
        if paid_for(middle) <= paid:
            low = middle
        else:
            high = middle - 1
    return low


def _done(order_id: Any) -> tuple[dict[int, int], dict[int, int]]:
    """(goods, subsidy) already refunded or being refunded per exhibitor (failed refunds aside)."""
    rows = (RefundAllocation.objects.filter(refund__order_id=order_id, refund__kind=RefundKind.ORDER)
            .exclude(refund__status=RefundStatus.FAILED).values("exhibitor_id")
            .annotate(goods=Sum("amount"), subsidy=Sum("subsidy")))
    return ({r["exhibitor_id"]: r["goods"] for r in rows}, {r["exhibitor_id"]: r["subsidy"] for r in rows})


def subsidy_split_lines(*, order_id: Any, goods: dict[int, int], gross: dict[int, int]) -> dict[int, int]:
    """For a refund of whole lines worth `goods` per exhibitor: the subsidy each gives back to the
    funder (empty without a voucher). The shopper gets the goods less that."""
    shares = vouchers.voucher_subsidy_shares(order_id=order_id)
    if not shares:
        return {}
    done_goods, done_subsidy = _done(order_id)
    return {eid: subsidy_for_goods(share=shares.get(eid, 0), gross=gross[eid], done_goods=done_goods.get(eid, 0),
                                   done_subsidy=done_subsidy.get(eid, 0), goods=value)
            for eid, value in goods.items()}


def subsidy_split_amount(*, order_id: Any, amount: int, gross: dict[int, int],
                         allocate: Any) -> tuple[dict[int, int], dict[int, int]] | None:
    """For a refund of `amount` (what the shopper gets back) on an order with a voucher: the goods
    each exhibitor gives back and the subsidy of it returned to the funder, so that goods −
    subsidy adds up to `amount` exactly. The amount is spread over exhibitors in proportion to
    what the shopper has left to get back on each (`allocate`, refunds' largest remainder). None
    without a voucher (refunds then split as before). Raises InvalidState for more than is left."""
    shares = vouchers.voucher_subsidy_shares(order_id=order_id)
    if not shares:
        return None
    done_goods, done_subsidy = _done(order_id)
    left = {eid: max((g - done_goods.get(eid, 0)) - (shares.get(eid, 0) - done_subsidy.get(eid, 0)), 0)
            for eid, g in gross.items()}
    left = {eid: value for eid, value in left.items() if value > 0}
    if amount > sum(left.values()):
        raise InvalidState(_("That is more than is left to refund on this order."))
    goods: dict[int, int] = {}
    subsidies: dict[int, int] = {}
    for eid, paid in allocate(amount, left).items():
        value = goods_for_paid_amount(paid=paid, share=shares.get(eid, 0), gross=gross[eid],
                                      done_goods=done_goods.get(eid, 0), done_subsidy=done_subsidy.get(eid, 0))
        goods[eid], subsidies[eid] = value, value - paid
    return goods, subsidies
