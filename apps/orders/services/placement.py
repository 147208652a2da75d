"""Placing an order: validation, the Redis sold-out flags, and the one short claim transaction.

Placement claims everything in one short transaction (no external call inside; lock_timeout set
on the connection), in a fixed order so two orders never deadlock: per-customer quotas, editions,
slots, stock, each group by id. The payment provider is called only after that transaction
commits, by payments (`apps.payments.services.orders`: checkout, cancel with the provider's
payment, the expiry sweep), which sits above orders; nothing here calls payments.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog import services as inventory
from apps.catalog.models import Product, ProductKind, ServiceSlot
from apps.exhibitors.models import ExhibitorStatus
from apps.orders.models import Order, OrderEvent, OrderLine, OrderLineEdition, OrderStatus
from apps.orders.services.quotas import _claim_quotas
from marketplace.errors import InvalidState, LimitExceeded, NotOnSale, SlotFull, SlotRequired, SoldOut, ValidationFailed

logger = structlog.get_logger(__name__)

MAX_QUANTITY = 10
MAX_LINES = 20


@dataclass(frozen=True)
class LineRequest:
    product_id: int
    quantity: int
    slot_id: int | None = None


def _load_products(lines: Sequence[LineRequest]) -> dict[int, Product]:
    ids = {line.product_id for line in lines}
    products = {
        p.pk: p
        for p in Product.objects.filter(id__in=ids, is_published=True, exhibitor__status=ExhibitorStatus.APPROVED)
    }
    missing = sorted(ids - products.keys())
    if missing:
        raise ValidationFailed(_("Unknown product: %(id)s.") % {"id": missing[0]}, attr="lines")
    return products


def _validate(lines: Sequence[LineRequest], products: dict[int, Product], slots: dict[int, ServiceSlot], now: datetime) -> None:
    if not lines:
        raise ValidationFailed(_("An order needs at least one line."), attr="lines")
    if len(lines) > MAX_LINES:
        raise ValidationFailed(_("An order has at most %(count)s lines.") % {"count": MAX_LINES}, attr="lines")
    if len({(line.product_id, line.slot_id) for line in lines}) != len(lines):
        raise ValidationFailed(_("Each product (and slot) may appear once; use the quantity."), attr="lines")
    currencies = {products[line.product_id].currency for line in lines}
    if len(currencies) > 1:
        raise ValidationFailed(_("All products of an order must be priced in the same currency."), attr="lines")
    units: Counter[int] = Counter()
    for line in lines:
        product = products[line.product_id]
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise ValidationFailed(_("Quantity must be between 1 and %(max)s.") % {"max": MAX_QUANTITY}, attr="lines")
        if product.kind == ProductKind.SERVICE:
            if line.slot_id is None:
                raise SlotRequired(_("%(product)s needs a time slot.") % {"product": product.title})
            slot = slots.get(line.slot_id)
            if slot is None or slot.product_id != product.pk:
                raise ValidationFailed(_("Slot %(slot)s is not a slot of product %(product)s.")
                                       % {"slot": line.slot_id, "product": product.pk}, attr="lines")
            if slot.starts_at <= now:
                raise ValidationFailed(_("Slot %(slot)s has already started.") % {"slot": line.slot_id}, attr="lines")
        elif line.slot_id is not None:
            raise ValidationFailed(_("%(product)s is not booked by time slot.") % {"product": product.title}, attr="lines")
        if not product.is_in_sale_window(now):
            raise NotOnSale(_("%(product)s is not on sale now.") % {"product": product.title})
        units[product.pk] += line.quantity
    for product_id, count in units.items():
        limit = products[product_id].per_customer_limit
        if limit is not None and count > limit:
            raise LimitExceeded(_("At most %(limit)s per customer.") % {"limit": limit})


def _refuse_flagged(product_ids: set[int], slot_ids: set[int]) -> None:
    """Answer from the Redis flags, before any query, transaction or lock (DESIGN.md): during a
    sell-out most requests end here. Only limited goods are ever flagged, so every requested id
    is checked without reading the products first."""
    sold_out, full = inventory.inventory_flags(product_ids=product_ids, slot_ids=slot_ids)
    if sold_out:
        raise SoldOut(_("Product %(id)s is sold out.") % {"id": min(sold_out)})
    if full:
        raise SlotFull()


def _is_number_collision(exc: IntegrityError) -> bool:
    return "number" in str(exc)


def order_place(*, user: Any, lines: Sequence[LineRequest], now: datetime | None = None) -> Order:
    """Create a pending order holding its inventory until `expires_at`.

    Prices, currency and exhibitor come from the product rows, never from the caller. Raises
    ValidationFailed (unknown product, bad quantity, slot of another product), SlotRequired,
    NotOnSale, LimitExceeded, SoldOut or SlotFull; nothing is held when it raises. Not idempotent
    (the API's Idempotency-Key makes the request idempotent). The payment is not created here;
    see `apps.payments.services.orders.order_checkout`.
    """
    now = now or timezone.now()
    slot_ids = {line.slot_id for line in lines if line.slot_id is not None}
    _refuse_flagged({line.product_id for line in lines}, slot_ids)
    products = _load_products(lines)
    slots = {s.pk: s for s in ServiceSlot.objects.filter(id__in=slot_ids)} if slot_ids else {}
    _validate(lines, products, slots, now)
    for _attempt in range(3):
        try:
            return _place(user=user, lines=lines, products=products, now=now)
        except IntegrityError as exc:
            if not _is_number_collision(exc):
                raise
            logger.warning("order_number_collision")
        except (SoldOut, SlotFull) as exc:
            _after_refused_claim(exc, products, slot_ids)
            raise
    raise InvalidState(_("Could not allocate an order number; please retry."))


def _after_refused_claim(exc: Exception, products: dict[int, Product], slot_ids: set[int]) -> None:
    """After the rollback: raise the flag only if Postgres says nothing is left (not merely locked)."""
    if isinstance(exc, inventory.InventorySoldOut):
        remaining = inventory.inventory_remaining(product_ids=[exc.product_id])["products"]
        if remaining.get(exc.product_id) == 0:
            inventory.inventory_flag_sold_out(product_ids=[exc.product_id])
    elif isinstance(exc, inventory.InventorySlotFull):
        remaining = inventory.inventory_remaining(slot_ids=[exc.slot_id])["slots"]
        if remaining.get(exc.slot_id) == 0:
            inventory.inventory_flag_sold_out(slot_ids=[exc.slot_id])


def _place(*, user: Any, lines: Sequence[LineRequest], products: dict[int, Product], now: datetime) -> Order:
    ordered = sorted(lines, key=lambda line: (line.product_id, line.slot_id or 0))
    # A service may appear once per slot: per-customer units are summed per product.
    quota_units: Counter[int] = Counter()
    for line in ordered:
        if products[line.product_id].per_customer_limit is not None:
            quota_units[line.product_id] += line.quantity
    editions_wanted = {
        line.product_id: (line.quantity, products[line.product_id].edition_size or 0)
        for line in ordered if products[line.product_id].kind == ProductKind.COLLECTIBLE
    }
    slots_wanted: dict[int, int] = {line.slot_id: line.quantity for line in ordered if line.slot_id is not None}
    stock_wanted = {
        line.product_id: line.quantity
        for line in ordered
        if products[line.product_id].kind in (ProductKind.DOWNLOAD, ProductKind.PASS)
        and products[line.product_id].stock_total is not None
    }
    hold = cast(timedelta, settings.MARKETPLACE["ORDER_HOLD"])
    subtotal = sum(products[line.product_id].price * line.quantity for line in ordered)
    currency = products[ordered[0].product_id].currency
    with transaction.atomic():
        _claim_quotas(user_id=user.pk,
                      wanted={pid: (units, products[pid].per_customer_limit or 0) for pid, units in quota_units.items()})
        claimed = inventory.inventory_claim_editions(wanted=editions_wanted)
        inventory.inventory_claim_slots(wanted=slots_wanted)
        inventory.inventory_claim_stock(wanted=stock_wanted)
        order = Order.objects.create(
            user=user, currency=currency, subtotal=subtotal, total=subtotal,
            expires_at=now + hold, status_changed_at=now,
        )
        order_lines = OrderLine.objects.bulk_create([
            OrderLine(
                order=order, product=products[line.product_id], exhibitor_id=products[line.product_id].exhibitor_id,
                slot_id=line.slot_id, title=products[line.product_id].title_en, quantity=line.quantity,  # type: ignore[attr-defined]
                unit_price=products[line.product_id].price, total=products[line.product_id].price * line.quantity,
                currency=currency, stock_held=stock_wanted.get(line.product_id, 0),
                quota_counted=line.quantity if line.product_id in quota_units else 0,
            )
            for line in ordered
        ])
        links = [
            OrderLineEdition(line=order_line, edition_id=edition_id)
            for order_line in order_lines
            for edition_id, _serial in claimed.get(order_line.product_id, [])
        ]
        if links:
            OrderLineEdition.objects.bulk_create(links)
        OrderEvent.objects.create(
            order=order, from_status="", to_status=OrderStatus.PENDING_PAYMENT, actor=user, note="placed",
            payload={"serials": {str(pid): [s for _, s in eds] for pid, eds in claimed.items()}} if claimed else {},
        )
    _set_prefetched_lines(order, order_lines)
    logger.info("order_placed", order_id=str(order.pk), number=order.number, lines=len(order_lines))
    return order


def _set_prefetched_lines(order: Order, lines: list[OrderLine]) -> None:
    """Store the lines just created as the order's prefetched `lines` (what prefetch_related
    does), so the response is built without reading them back."""
    cached = OrderLine.objects.filter(order=order)
    cached._result_cache = lines  # type: ignore[attr-defined]
    cached._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": cached}  # type: ignore[attr-defined]
