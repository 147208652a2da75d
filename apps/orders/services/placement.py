"""Placing an order: validation, the Redis sold-out flags, and the one short claim transaction.

Placement claims everything in one short transaction (no external call inside; lock_timeout set
on the connection, or per transaction behind PgBouncer: marketplace/db/backend), in a fixed
order so two orders never deadlock: per-customer quotas, editions, slots, stock, each group by id.
The payment provider is called only after that transaction commits, by payments
(`apps.payments.services.orders`: checkout, cancel with the provider's payment, the expiry
sweep), which sits above orders; nothing here calls payments.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog import services as inventory
from apps.catalog.models import Product, ProductKind, ServiceSlot
from apps.catalog.selectors_placement import product_map_for_placement, slot_map_for_placement
from apps.catalog.services import drops
from apps.orders.models import Order, OrderEvent, OrderLine, OrderLineEdition, OrderStatus
from apps.orders.services.bundles import PlannedLine, bundle_lines_expand
from apps.orders.services.discounts import apply_voucher, precheck_voucher
from apps.orders.services.quotas import _claim_quotas
from apps.orders.services.rows import order_rows_insert
from marketplace.errors import InvalidState, LimitExceeded, NotOnSale, SlotFull, SlotRequired, SoldOut, ValidationFailed

logger = structlog.get_logger(__name__)

MAX_QUANTITY = 10
MAX_LINES = 20


@dataclass(frozen=True)
class LineRequest:
    product_id: int
    quantity: int
    slot_id: int | None = None
    # A bundle's service components' slots: ((component product id, slot id), ...).
    component_slots: tuple[tuple[int, int], ...] = ()


def _load_products(lines: Sequence[LineRequest]) -> dict[int, Product]:
    ids = {line.product_id for line in lines}
    # The drops' holder priority joined: "not on sale yet" stays one query (apps.catalog.services.drops).
    products = product_map_for_placement(ids=ids)
    missing = sorted(ids - products.keys())
    if missing:
        raise ValidationFailed(_("Unknown product: %(id)s.") % {"id": missing[0]}, attr="lines")
    return products


def _validate(lines: Sequence[LineRequest], products: dict[int, Product], slots: dict[int, ServiceSlot], now: datetime,
              early: frozenset[int] = frozenset()) -> None:
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
        if product.pk not in early and not product.is_in_sale_window(now):  # early: drops' priority or ballot win
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


def order_place(*, user: Any, lines: Sequence[LineRequest], now: datetime | None = None,
                voucher_id: int | None = None) -> Order:
    """Create a pending order holding its inventory until `expires_at`.

    Prices, currency and exhibitor come from the product rows, never from the caller. Raises
    ValidationFailed (unknown product, bad quantity, slot of another product), SlotRequired,
    NotOnSale, LimitExceeded, SoldOut, SlotFull or BallotRequired (a ballot product, see
    apps.catalog.services.drops); nothing is held when it raises. Not idempotent
    (the API's Idempotency-Key makes the request idempotent). The payment is not created here;
    see `apps.payments.services.orders.order_checkout`. With `voucher_id` (the shopper's voucher),
    the voucher is taken in the same transaction and the order carries its discount; raises
    VoucherNotApplicable when it does not apply (apps/orders/services/discounts.py). A bundle's
    line is placed as lines of its components priced by share, held in the same transaction
    (apps/orders/services/bundles.py; its services' slots come in `component_slots`).
    """
    now = now or timezone.now()
    slot_ids = {line.slot_id for line in lines if line.slot_id is not None}
    _refuse_flagged({line.product_id for line in lines}, slot_ids)
    products = _load_products(lines)
    slots = slot_map_for_placement(ids=slot_ids) if slot_ids else {}
    units: Counter[int] = Counter()
    for line in lines:
        units[line.product_id] += line.quantity
    early = drops.drops_placement_check(user_id=user.pk, products=products, units=units, now=now)
    _validate(lines, products, slots, now, early)
    planned = bundle_lines_expand(lines=lines, products=products, now=now)  # a bundle: its components' lines
    precheck_voucher(voucher_id=voucher_id, user=user, products=products, now=now)
    for _attempt in range(3):
        try:
            return _place(user=user, lines=planned, products=products, now=now, voucher_id=voucher_id)
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


def _place(*, user: Any, lines: Sequence[PlannedLine], products: dict[int, Product], now: datetime,
           voucher_id: int | None = None) -> Order:
    ordered = sorted(lines, key=lambda line: (line.product_id, line.slot_id or 0, line.unit_price))
    # A product may be on several lines (a service once per slot; a bundle's component next to
    # the same product bought alone, or at two unit prices): claims are summed per product / slot.
    quota_units: Counter[int] = Counter()
    editions_units: Counter[int] = Counter()
    slots_wanted: Counter[int] = Counter()
    stock_wanted: Counter[int] = Counter()
    for line in ordered:
        product = products[line.product_id]
        if product.per_customer_limit is not None:
            quota_units[line.product_id] += line.quantity
        if product.kind == ProductKind.COLLECTIBLE:
            editions_units[line.product_id] += line.quantity
        if line.slot_id is not None:
            slots_wanted[line.slot_id] += line.quantity
        if product.kind in (ProductKind.DOWNLOAD, ProductKind.PASS) and product.stock_total is not None:
            stock_wanted[line.product_id] += line.quantity
    editions_wanted = {pid: (units, products[pid].edition_size or 0) for pid, units in editions_units.items()}
    hold = cast(timedelta, settings.MARKETPLACE["ORDER_HOLD"])
    subtotal = sum(line.unit_price * line.quantity for line in ordered)
    currency = products[ordered[0].product_id].currency
    with transaction.atomic():
        drops.drops_claim_ballot_wins(user_id=user.pk, products=products, now=now)
        _claim_quotas(user_id=user.pk,
                      wanted={pid: (units, products[pid].per_customer_limit or 0) for pid, units in quota_units.items()})
        claimed = inventory.inventory_claim_editions(wanted=editions_wanted)
        inventory.inventory_claim_slots(wanted=slots_wanted)
        inventory.inventory_claim_stock(wanted=stock_wanted)
        # Built unsaved and written in one statement with the links and the event (rows.py).
        order = Order(
            user=user, currency=currency, subtotal=subtotal, total=subtotal,
            expires_at=now + hold, status_changed_at=now,
        )
        order_lines = [
            OrderLine(
                order=order, product=products[line.product_id], exhibitor_id=products[line.product_id].exhibitor_id,
                slot_id=line.slot_id, title=products[line.product_id].title_en, quantity=line.quantity,  # type: ignore[attr-defined]
                unit_price=line.unit_price, total=line.unit_price * line.quantity,
                currency=currency, stock_held=line.quantity if line.product_id in stock_wanted else 0,
                quota_counted=line.quantity if line.product_id in quota_units else 0,
                bundle_id=line.bundle_id, bundle_quantity=line.bundle_quantity,
            )
            for line in ordered
        ]
        # Each line takes as many of its product's claimed editions as its quantity.
        unlinked = {pid: iter(editions) for pid, editions in claimed.items()}
        links = [
            OrderLineEdition(line=order_line, edition_id=edition_id)
            for order_line in order_lines if order_line.product_id in unlinked
            for edition_id, _serial in islice(unlinked[order_line.product_id], order_line.quantity)
        ]
        order_rows_insert(order=order, lines=order_lines, links=links, event=OrderEvent(
            order=order, from_status="", to_status=OrderStatus.PENDING_PAYMENT, actor=user, note="placed",
            payload={"serials": {str(pid): [s for _, s in eds] for pid, eds in claimed.items()}} if claimed else {},
        ))
        apply_voucher(order=order, lines=order_lines, voucher_id=voucher_id, user=user, now=now)
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
