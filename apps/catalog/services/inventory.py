"""Inventory claims (DESIGN.md "Selling limited goods") and the sold-out / slot-full flags.

Called by the orders services inside their one short placement / release transaction; each
function is one SQL statement whatever the number of products, so placing an order costs the
same number of queries for 1 line or 10. Postgres decides availability; the Redis flags below only
let "sold out" and "slot full" be answered without reaching for a row lock.
"""

import random
from collections.abc import Iterable, Mapping, Sequence

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import (
    Edition,
    EditionStatus,
    Product,
    ProductKind,
    ServiceSlot,
)
from marketplace.errors import SlotFull, SoldOut

SOLD_OUT_FLAG_TTL = 60  # seconds; a stale flag (a release raced the flag) heals by itself


class InventorySoldOut(SoldOut):
    """Not enough editions or stock left for `product_id`."""

    def __init__(self, *, product_id: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.product_id = product_id


class InventorySlotFull(SlotFull):
    def __init__(self, *, slot_id: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.slot_id = slot_id


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Inventory claims must run inside the caller's transaction.")


def _values(rows: Sequence[tuple[int, ...]], casts: Sequence[str]) -> tuple[str, list[int]]:
    """A VALUES list with typed placeholders and its flat parameters."""
    row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    return ", ".join([row] * len(rows)), [value for r in rows for value in r]


def inventory_claim_editions(*, wanted: Mapping[int, tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
    """Hold `quantity` available editions of each product: {product_id: (quantity, edition_size)}.

    Each product is scanned from a random serial, wrapping around, with FOR UPDATE SKIP LOCKED,
    so concurrent buyers spread over the edition range instead of queueing on the lowest free
    serial; the chosen rows become `held` in the same statement. Returns {product_id: [(edition_id,
    serial), ...]}. Raises InventorySoldOut for the first product (by id) that got fewer than asked
    (the caller's transaction then rolls the whole claim back). Must run inside a transaction.
    """
    _require_transaction()
    if not wanted:
        return {}
    rows = [(pid, qty, random.randint(1, max(size, 1))) for pid, (qty, size) in sorted(wanted.items())]
    values, params = _values(rows, ("bigint", "integer", "integer"))
    table = Edition._meta.db_table
    # The wrap-around is two index range scans (from the start serial up, then from serial 1), not
    # one ORDER BY (serial < start), serial: that sort read every edition of the product on each
    # claim (about 55 ms at 60,000 editions, bench S1). The second scan runs only if the first came
    # up short (LIMIT 0 reads nothing). The rows picked are then updated by primary key
    # (`= ANY(ARRAY(...))`): joined instead (`FROM picked`), the planner guessed thousands of picked
    # rows and merge-joined the whole edition table in id order, fast for the product whose
    # editions come first and about 300 ms a claim for one 250,000 rows further (bench S1, issue 15).
    sql = f"""
        WITH wanted(product_id, qty, start_serial) AS (VALUES {values}),
        upper AS MATERIALIZED (
            SELECT w.product_id, c.id FROM wanted w CROSS JOIN LATERAL (
                SELECT e.id FROM {table} e
                WHERE e.product_id = w.product_id AND e.status = 'available' AND e.serial >= w.start_serial
                ORDER BY e.serial
                LIMIT w.qty
                FOR UPDATE OF e SKIP LOCKED
            ) c
        ),
        lower AS MATERIALIZED (
            SELECT c.id FROM wanted w CROSS JOIN LATERAL (
                SELECT e.id FROM {table} e
                WHERE e.product_id = w.product_id AND e.status = 'available' AND e.serial < w.start_serial
                ORDER BY e.serial
                LIMIT w.qty - (SELECT count(*) FROM upper u WHERE u.product_id = w.product_id)
                FOR UPDATE OF e SKIP LOCKED
            ) c
        ),
        picked AS (SELECT id FROM upper UNION ALL SELECT id FROM lower)
        UPDATE {table} e SET status = 'held', status_changed_at = now()
        WHERE e.id = ANY(ARRAY(SELECT id FROM picked))
        RETURNING e.product_id, e.id, e.serial
    """  # noqa: S608 - only table names and placeholders are interpolated
    claimed: dict[int, list[tuple[int, int]]] = {pid: [] for pid in wanted}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for product_id, edition_id, serial in cursor.fetchall():
            claimed[product_id].append((edition_id, serial))
    for product_id, (quantity, _size) in sorted(wanted.items()):
        if len(claimed[product_id]) < quantity:
            raise InventorySoldOut(product_id=product_id, detail=str(_("Not enough editions left.")))
    for editions in claimed.values():
        editions.sort(key=lambda pair: pair[1])
    return claimed


def _counter_claim(*, table: str, column: str, limit: str, wanted: Mapping[int, int], sign: str) -> set[int]:
    """Add (`sign`="+") or remove ("-") quantities on a counter column, conditionally, for many rows.

    The rows are locked in id order first (a fixed order: two orders touching the same rows never
    deadlock), then updated only where the result stays within [0, limit]. Returns the updated ids.
    """
    rows = sorted(wanted.items())
    values, params = _values(rows, ("bigint", "integer"))
    condition = f"t.{column} + w.qty <= t.{limit}" if sign == "+" else f"t.{column} >= w.qty"
    sql = f"""
        WITH wanted(id, qty) AS (VALUES {values}),
        locked AS MATERIALIZED (
            SELECT t.id FROM {table} t WHERE t.id IN (SELECT id FROM wanted) ORDER BY t.id FOR UPDATE OF t
        )
        UPDATE {table} t SET {column} = t.{column} {sign} w.qty
        FROM wanted w, locked l
        WHERE t.id = w.id AND l.id = t.id AND {condition}
        RETURNING t.id
    """  # noqa: S608 - only identifiers of ours and placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def inventory_claim_slots(*, wanted: Mapping[int, int]) -> None:
    """Book `quantity` places on each slot ({slot_id: quantity}) by a conditional update.

    Raises InventorySlotFull for the first slot (by id) without room. Must run in a transaction.
    """
    _require_transaction()
    if not wanted:
        return
    booked = _counter_claim(table=ServiceSlot._meta.db_table, column="taken", limit="capacity", wanted=wanted, sign="+")
    for slot_id in sorted(wanted):
        if slot_id not in booked:
            raise InventorySlotFull(slot_id=slot_id)


def inventory_claim_stock(*, wanted: Mapping[int, int]) -> None:
    """Take `quantity` units of stock of each limited product ({product_id: quantity}).

    Products with unlimited stock must not be passed. Raises InventorySoldOut for the first product
    (by id) without enough stock. Must run in a transaction.
    """
    _require_transaction()
    if not wanted:
        return
    taken = _counter_claim(table=Product._meta.db_table, column="stock_taken", limit="stock_total", wanted=wanted, sign="+")
    for product_id in sorted(wanted):
        if product_id not in taken:
            raise InventorySoldOut(product_id=product_id, detail=str(_("Not enough stock left.")))


def inventory_release(*, edition_ids: Sequence[int] = (), slots: Mapping[int, int] | None = None,
                      stock: Mapping[int, int] | None = None) -> None:
    """Give back held editions, slot places ({slot_id: quantity}) and stock ({product_id: quantity}).

    Only `held` editions become available again (sold ones stay sold). Counters never go below
    zero. The caller guarantees each hold is released once (it locks the order and changes its
    state in the same transaction). Must run in a transaction.
    """
    _require_transaction()
    if edition_ids:
        Edition.objects.filter(id__in=list(edition_ids), status=EditionStatus.HELD).update(
            status=EditionStatus.AVAILABLE, status_changed_at=timezone.now(),
        )
    if slots:
        _counter_claim(table=ServiceSlot._meta.db_table, column="taken", limit="capacity", wanted=slots, sign="-")
    if stock:
        _counter_claim(table=Product._meta.db_table, column="stock_taken", limit="stock_total", wanted=stock, sign="-")


def inventory_mark_sold(*, edition_ids: Sequence[int]) -> int:
    """Turn held editions into sold ones (payment succeeded). Idempotent. Returns rows changed."""
    _require_transaction()
    if not edition_ids:
        return 0
    return Edition.objects.filter(id__in=list(edition_ids), status=EditionStatus.HELD).update(
        status=EditionStatus.SOLD, status_changed_at=timezone.now(),
    )


def inventory_restock_editions(*, edition_ids: Sequence[int]) -> int:
    """Put sold editions back on sale (their sale was refunded). Idempotent. Returns rows changed."""
    _require_transaction()
    if not edition_ids:
        return 0
    return Edition.objects.filter(id__in=list(edition_ids), status=EditionStatus.SOLD).update(
        status=EditionStatus.AVAILABLE, status_changed_at=timezone.now(),
    )


def inventory_remaining(*, product_ids: Iterable[int] = (), slot_ids: Iterable[int] = ()) -> dict[str, dict[int, int | None]]:
    """Committed availability, read without locks: {"products": {id: remaining | None}, "slots": {...}}.

    Used after a refused claim to decide whether to raise the sold-out flag (rows merely locked by
    in-flight buyers still count as available, since those buyers may roll back).
    """
    products: dict[int, int | None] = {}
    for product in Product.objects.filter(id__in=list(product_ids)).only("id", "kind", "stock_total", "stock_taken"):
        if product.kind == ProductKind.COLLECTIBLE:
            products[product.pk] = Edition.objects.filter(product_id=product.pk, status=EditionStatus.AVAILABLE).count()
        elif product.stock_total is None:
            products[product.pk] = None
        else:
            products[product.pk] = max(product.stock_total - product.stock_taken, 0)
    slot_rows = ServiceSlot.objects.filter(id__in=list(slot_ids)).only("id", "capacity", "taken")
    slots: dict[int, int | None] = {slot.pk: slot.remaining for slot in slot_rows}
    return {"products": products, "slots": slots}


def _sold_out_key(product_id: int) -> str:
    return f"soldout:{product_id}"


def _slot_full_key(slot_id: int) -> str:
    return f"slotfull:{slot_id}"


def inventory_flags(*, product_ids: Iterable[int], slot_ids: Iterable[int] = ()) -> tuple[set[int], set[int]]:
    """(sold-out product ids, full slot ids) according to the Redis flags: one cache round trip."""
    product_keys = {_sold_out_key(pid): pid for pid in product_ids}
    slot_keys = {_slot_full_key(sid): sid for sid in slot_ids}
    found = cache.get_many([*product_keys, *slot_keys])
    return {product_keys[k] for k in found if k in product_keys}, {slot_keys[k] for k in found if k in slot_keys}


def inventory_flag_sold_out(*, product_ids: Iterable[int] = (), slot_ids: Iterable[int] = ()) -> None:
    """Raise the flags. Call only after a refused claim rolled back and Postgres said 0 remain."""
    keys = [_sold_out_key(pid) for pid in product_ids] + [_slot_full_key(sid) for sid in slot_ids]
    if keys:
        cache.set_many(dict.fromkeys(keys, 1), timeout=SOLD_OUT_FLAG_TTL)


def inventory_clear_flags(*, product_ids: Iterable[int] = (), slot_ids: Iterable[int] = ()) -> None:
    """Drop the flags (a hold was released). Call after commit (transaction.on_commit)."""
    keys = [_sold_out_key(pid) for pid in product_ids] + [_slot_full_key(sid) for sid in slot_ids]
    if keys:
        cache.delete_many(keys)
