"""A consumption voucher on an order being placed (API.md "Vouchers"): checked before placement's
transaction, applied inside it, after the lines are written, so the voucher is taken together with
the inventory or not at all. The voucher's own rules live in apps.vouchers (below orders)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from apps.catalog.models import Product
from apps.orders.models import Order, OrderLine
from apps.vouchers import services as vouchers


def precheck_voucher(*, voucher_id: int | None, user: Any, products: dict[int, Product], now: datetime) -> None:
    """Refuse early, before any hold, a voucher that is not the shopper's, not available or in
    another currency (VoucherNotApplicable). Scope and minimum spend are checked on the lines."""
    if voucher_id is None:
        return
    currency = next(iter(products.values())).currency
    vouchers.voucher_precheck(voucher_id=voucher_id, user_id=user.pk, currency=currency, now=now)


def apply_voucher(*, order: Order, lines: Sequence[OrderLine], voucher_id: int | None, user: Any, now: datetime) -> None:
    """Inside placement's transaction: take the voucher for the order and write the discount
    (total = subtotal − discount). Raises VoucherNotApplicable (below the minimum spend of the
    goods it covers, out of scope, used or expired meanwhile); the placement then rolls back."""
    if voucher_id is None:
        return
    redemption = vouchers.voucher_apply(
        voucher_id=voucher_id, user_id=user.pk, order_id=order.pk, currency=order.currency, now=now,
        lines=[vouchers.VoucherLine(key=line.pk, product_id=line.product_id, exhibitor_id=line.exhibitor_id, total=line.total,
                                    bundle_id=line.bundle_id)
               for line in lines],
    )
    order.voucher_redemption = redemption  # type: ignore[attr-defined]  # the response reads it without a query
    order.discount = redemption.discount
    order.total = order.subtotal - redemption.discount
    Order.objects.filter(pk=order.pk).update(discount=order.discount, total=order.total)
