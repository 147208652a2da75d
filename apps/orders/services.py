"""Writes for orders: placement with inventory holds, the state transitions, and expiry.

Placement claims everything in one short transaction (no external call inside; lock_timeout set
on the connection), in a fixed order so two orders never deadlock: per-customer quotas, editions,
slots, stock, each group by id. The payment provider is called only after that transaction
commits, by payments (`apps.payments.services.orders`: checkout, cancel with the provider's
payment, the expiry sweep), which sits above orders; nothing here calls payments.

Every transition goes through `_transition`: lock the order row, return quietly if the order is
already in the target state (a repeated call is a logged no-op), raise InvalidState if the source
state is wrong, run the django-fsm transition, save with `update_fields` and write an OrderEvent,
all in one transaction.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from apps.catalog import services as inventory
from apps.catalog.models import Product, ProductKind, ServiceSlot
from apps.exhibitors.models import ExhibitorStatus
from apps.orders.models import CustomerProductQuota, Order, OrderEvent, OrderLine, OrderLineEdition, OrderStatus
from marketplace.errors import InvalidState, LimitExceeded, NotOnSale, SlotFull, SlotRequired, SoldOut, ValidationFailed

logger = structlog.get_logger(__name__)

MAX_QUANTITY = 10
MAX_LINES = 20


@dataclass(frozen=True)
class LineRequest:
    product_id: int
    quantity: int
    slot_id: int | None = None


# --- Placement -------------------------------------------------------------------------------------


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


def _claim_quotas(*, user_id: int, wanted: dict[int, tuple[int, int]]) -> None:
    """Count units against per-customer limits ({product_id: (quantity, limit)}), in the database.

    A conditional upsert: a first purchase inserts the row, later ones add to it only while the
    total stays within the limit; concurrent orders of one shopper serialise on the row.
    """
    if not wanted:
        return
    rows = sorted((pid, qty, limit) for pid, (qty, limit) in wanted.items())
    values = ", ".join(["(%s::bigint, %s::integer, %s::integer)"] * len(rows))
    table = CustomerProductQuota._meta.db_table
    product_table = Product._meta.db_table
    sql = f"""
        INSERT INTO {table} AS q (user_id, product_id, units)
        SELECT %s, w.product_id, w.qty FROM (VALUES {values}) AS w(product_id, qty, lim)
        WHERE w.qty <= w.lim ORDER BY w.product_id
        ON CONFLICT (user_id, product_id) DO UPDATE SET units = q.units + EXCLUDED.units
        WHERE q.units + EXCLUDED.units <= (SELECT p.per_customer_limit FROM {product_table} p WHERE p.id = EXCLUDED.product_id)
        RETURNING q.product_id
    """  # noqa: S608 - only table names and placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, *(v for row in rows for v in row)])
        counted = {row[0] for row in cursor.fetchall()}
    if counted != set(wanted):
        raise LimitExceeded(_("This exceeds the per-customer limit across your open and paid orders."))


def _release_quotas(*, user_id: int, counted: dict[int, int]) -> None:
    if not counted:
        return
    rows = sorted(counted.items())
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(rows))
    table = CustomerProductQuota._meta.db_table
    sql = f"""
        WITH w(product_id, qty) AS (VALUES {values}),
        locked AS MATERIALIZED (
            SELECT q.id FROM {table} q WHERE q.user_id = %s AND q.product_id IN (SELECT product_id FROM w)
            ORDER BY q.product_id FOR UPDATE OF q
        )
        UPDATE {table} q SET units = q.units - w.qty FROM w, locked l
        WHERE l.id = q.id AND q.product_id = w.product_id AND q.units >= w.qty
    """  # noqa: S608 - only table names and placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(v for row in rows for v in row), user_id])


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


# --- Transitions -----------------------------------------------------------------------------------


def _transition(*, order_id: Any, name: str, target: str, actor: Any = None, note: str = "",
                payload: dict[str, Any] | None = None, repeatable: bool = False,
                effect: Callable[[Order], dict[str, Any] | None] | None = None, now: datetime | None = None) -> Order:
    """Lock, check, transition, save, audit; see the module docstring. `effect` runs under the lock
    before the state changes (inventory release or conversion) and may add to the event payload."""
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == target and not repeatable:
            logger.info("order_transition_repeated", order_id=str(order.pk), transition=name, status=order.status)
            return order
        method = getattr(order, name)
        if not can_proceed(method):
            current = order.get_status_display().lower()
            raise InvalidState(_("Order %(number)s is %(status)s; it cannot become %(target)s.")
                               % {"number": order.number, "status": current, "target": OrderStatus(target).label})
        extra = effect(order) if effect else None
        from_status = order.status
        method()
        order.status_changed_at = now
        order.save(update_fields=["status", "status_changed_at", "updated_at"])
        OrderEvent.objects.create(
            order=order, from_status=from_status, to_status=order.status, actor=actor, note=note,
            payload={**(payload or {}), **(extra or {})},
        )
    logger.info("order_transition", order_id=str(order.pk), transition=name, from_status=from_status, to_status=order.status)
    return order


def _release_holds(order: Order) -> dict[str, Any]:
    """Give back everything the order holds. Runs under the order's lock, once per order (the
    caller moves the order out of pending_payment in the same transaction)."""
    lines = list(order.lines.all())
    links = list(OrderLineEdition.objects.filter(line__order=order).values_list("id", "edition_id", "edition__serial"))
    slots: Counter[int] = Counter()
    stock: Counter[int] = Counter()
    quotas: Counter[int] = Counter()
    for line in lines:
        if line.slot_id is not None:
            slots[line.slot_id] += line.quantity
        if line.stock_held:
            stock[line.product_id] += line.stock_held
        if line.quota_counted:
            quotas[line.product_id] += line.quota_counted
    inventory.inventory_release(edition_ids=[edition_id for _, edition_id, _ in links], slots=dict(slots), stock=dict(stock))
    _release_quotas(user_id=order.user_id, counted=dict(quotas))
    if links:
        OrderLineEdition.objects.filter(id__in=[link_id for link_id, _, _ in links]).delete()
    product_ids = [line.product_id for line in lines]
    slot_ids = list(slots)
    transaction.on_commit(lambda: inventory.inventory_clear_flags(product_ids=product_ids, slot_ids=slot_ids))
    return {"released_serials": sorted(serial for _, _, serial in links)} if links else {}


def order_cancel(*, order_id: Any, actor: Any = None, note: str = "cancelled",
                 under_lock: Callable[[Order], None] | None = None) -> Order:
    """Cancel a pending order, releasing its hold. The order transition only: the provider's
    payment is cancelled first by payments (`apps.payments.services.orders.order_cancel_with_payment`,
    what the API, the admin and the console call), which passes `under_lock` to check, under the
    order's lock and before anything changes, that no attempt can still take money (it raises to
    roll back).

    Raises Order.DoesNotExist for an unknown id; InvalidState unless pending payment; what
    `under_lock` raises. Idempotent: cancelling a cancelled order changes nothing.
    """

    def effect(order: Order) -> dict[str, Any]:
        if under_lock is not None:
            under_lock(order)
        return _release_holds(order)

    return _transition(order_id=order_id, name="cancel", target=OrderStatus.CANCELLED, actor=actor, note=note,
                       effect=effect)


def order_expire(*, order_id: Any, now: datetime | None = None,
                 under_lock: Callable[[Order], None] | None = None) -> Order:
    """Expire a pending order whose hold ran out, releasing the hold.

    Raises InvalidState if the order is not pending or not due yet, and what `under_lock` raises
    (run under the order's lock before anything changes: the payments-side sweep,
    `apps.payments.services.orders.orders_expire_due`, checks there that no attempt is still open).
    Idempotent. The provider is never called here.
    """
    now = now or timezone.now()

    def effect(order: Order) -> dict[str, Any]:
        if order.expires_at > now:
            raise InvalidState(_("Order %(number)s holds its inventory until %(time)s.")
                               % {"number": order.number, "time": order.expires_at.isoformat()})
        if under_lock is not None:
            under_lock(order)
        return _release_holds(order)

    return _transition(order_id=order_id, name="expire", target=OrderStatus.EXPIRED, note="hold expired", effect=effect, now=now)


def _convert_holds(order: Order) -> dict[str, Any]:
    edition_ids = list(OrderLineEdition.objects.filter(line__order=order).values_list("edition_id", flat=True))
    inventory.inventory_mark_sold(edition_ids=edition_ids)
    return {}


def order_mark_paid(*, order_id: Any, actor: Any = None, payload: dict[str, Any] | None = None) -> Order:
    """Payment succeeded: the order is paid and its held editions become sold (slots, stock and
    quotas stay taken). Raises InvalidState unless pending payment. Idempotent."""
    return _transition(order_id=order_id, name="pay", target=OrderStatus.PAID, actor=actor, note="payment succeeded",
                       payload=payload, effect=_convert_holds)


def _reclaim_holds(order: Order) -> dict[str, Any]:
    """Claim again, then sell, what a released order held (same quantities, any free serials).
    Raises SoldOut, SlotFull or LimitExceeded if any of it is gone; the caller's transaction
    (savepoint) then rolls every claim back."""
    lines = list(order.lines.select_related("product"))
    quotas: Counter[int] = Counter()
    editions: dict[int, tuple[int, int]] = {}
    slots: Counter[int] = Counter()
    stock: Counter[int] = Counter()
    limits: dict[int, int] = {}
    for line in lines:
        if line.quota_counted and line.product.per_customer_limit is not None:
            quotas[line.product_id] += line.quota_counted
            limits[line.product_id] = line.product.per_customer_limit
        if line.product.kind == ProductKind.COLLECTIBLE:
            editions[line.product_id] = (line.quantity, line.product.edition_size or 0)
        if line.slot_id is not None:
            slots[line.slot_id] += line.quantity
        if line.stock_held:
            stock[line.product_id] += line.stock_held
    _claim_quotas(user_id=order.user_id, wanted={pid: (units, limits[pid]) for pid, units in quotas.items()})
    claimed = inventory.inventory_claim_editions(wanted=editions)
    inventory.inventory_claim_slots(wanted=dict(slots))
    inventory.inventory_claim_stock(wanted=dict(stock))
    by_product = {line.product_id: line for line in lines}
    OrderLineEdition.objects.bulk_create([
        OrderLineEdition(line=by_product[pid], edition_id=edition_id) for pid, eds in claimed.items() for edition_id, _ in eds
    ])
    inventory.inventory_mark_sold(edition_ids=[edition_id for eds in claimed.values() for edition_id, _ in eds])
    serials = sorted(serial for eds in claimed.values() for _, serial in eds)
    return {"reclaimed_serials": serials} if serials else {}


def order_mark_paid_late(*, order_id: Any, actor: Any = None, payload: dict[str, Any] | None = None) -> Order:
    """A payment succeeded for an expired order: re-claim its inventory and mark it paid. Raises
    SoldOut, SlotFull or LimitExceeded (nothing changed) if the inventory is gone, and InvalidState
    from any other state, a cancelled order included: the shopper was told it is cancelled, so a
    stray payment for it is refunded instead (`payment_apply_state`). Idempotent (an order
    already paid is left alone)."""

    def effect(order: Order) -> dict[str, Any]:
        if order.status == OrderStatus.CANCELLED:
            raise InvalidState(_("Order %(number)s is %(status)s; it cannot become %(target)s.")
                               % {"number": order.number, "status": order.get_status_display().lower(),
                                  "target": OrderStatus.PAID.label})
        return _reclaim_holds(order)

    return _transition(order_id=order_id, name="pay_late", target=OrderStatus.PAID, actor=actor,
                       note="late payment; inventory re-claimed", payload=payload, effect=effect)


def order_mark_fulfilled(*, order_id: Any, actor: Any = None) -> Order:
    """Everything was delivered. Raises InvalidState unless paid. Idempotent."""
    return _transition(order_id=order_id, name="fulfil", target=OrderStatus.FULFILLED, actor=actor, note="fulfilled")


def order_mark_refunded(*, order_id: Any, partial: bool, actor: Any = None, payload: dict[str, Any] | None = None) -> Order:
    """Record a full or partial refund. Raises InvalidState unless paid, fulfilled or partially
    refunded. A full refund is idempotent; each partial refund is recorded as its own event."""
    if partial:
        return _transition(order_id=order_id, name="refund_partially", target=OrderStatus.PARTIALLY_REFUNDED, actor=actor,
                           note="partially refunded", payload=payload, repeatable=True)
    return _transition(order_id=order_id, name="refund", target=OrderStatus.REFUNDED, actor=actor, note="refunded",
                       payload=payload)


# --- Fulfilment support (issue 5) --------------------------------------------------------------------


def order_flag_attention(*, order_id: Any, error: str) -> bool:
    """A paid order could not be fulfilled: show it to operators (`needs_attention`) with the error.

    Writes an OrderEvent with the error in the same transaction. Idempotent: an order already
    flagged is left as it is (returns False); returns True when this call flagged it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.needs_attention:
            return False
        order.needs_attention = True
        order.save(update_fields=["needs_attention", "updated_at"])
        OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, note="needs attention",
                                  payload={"error": error[:2000]})
    logger.warning("order_needs_attention", order_id=str(order_id), error=error[:200])
    return True


def order_clear_attention(*, order_id: Any, actor: Any = None, note: str = "attention cleared") -> bool:
    """Clear `needs_attention` (an operator retries). Idempotent: returns False if it was not set."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.needs_attention:
            return False
        order.needs_attention = False
        order.save(update_fields=["needs_attention", "updated_at"])
        OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, actor=actor, note=note)
    return True


def order_lines_unlink_editions(*, line_ids: Sequence[int]) -> list[int]:
    """Detach the editions sold by these lines (a refund gives them back to the exhibitor).

    Returns the edition ids unlinked, so the caller can return them to the catalog. Must run in
    the caller's transaction; idempotent (a second call finds nothing to unlink).
    """
    links = list(OrderLineEdition.objects.select_for_update().filter(line_id__in=list(line_ids)).values_list("id", "edition_id"))
    if links:
        OrderLineEdition.objects.filter(id__in=[link_id for link_id, _ in links]).delete()
    return [edition_id for _, edition_id in links]


def order_lines_release_quotas(*, order_id: Any, line_ids: Sequence[int]) -> int:
    """Give back the per-customer units counted by refunded lines: limits count open and paid
    orders only, so a refunded shopper may buy again.

    Must run in the caller's transaction (the refund's). Idempotent: each line's `quota_counted`
    is zeroed under its row lock, so a second call releases nothing. Returns the units released.
    """
    lines = list(OrderLine.objects.select_for_update().filter(order_id=order_id, id__in=list(line_ids), quota_counted__gt=0)
                 .order_by("id").values_list("id", "product_id", "quota_counted"))
    if not lines:
        return 0
    counted: Counter[int] = Counter()
    for _line_id, product_id, units in lines:
        counted[product_id] += units
    OrderLine.objects.filter(id__in=[line_id for line_id, _, _ in lines]).update(quota_counted=0)
    user_id = Order.objects.values_list("user_id", flat=True).get(pk=order_id)
    _release_quotas(user_id=user_id, counted=dict(counted))
    return sum(counted.values())


# --- Operations console (issue 6) ------------------------------------------------------------------


def order_record_note(*, order_id: Any, actor: Any, note: str, payload: dict[str, Any] | None = None) -> OrderEvent:
    """Write an event to the order's audit trail without a state change (an operator acted on it).

    Raises Order.DoesNotExist for an unknown id. Not idempotent: each call is one event (callers
    dedupe the action itself)."""
    status = Order.objects.values_list("status", flat=True).get(pk=order_id)
    return OrderEvent.objects.create(order_id=order_id, from_status=status, to_status=status, actor=actor,
                                     note=note[:200], payload=payload or {})
