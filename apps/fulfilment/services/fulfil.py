"""Fulfilment: turn paid orders into entitlements (editions' certificates, bookings, licence keys,
downloads, passes), flag failures for operators, retry and sweep."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import DownloadFile, Edition, LicenceKey, LicenceKeyStatus, ProductKind
from apps.catalog.services import drops
from apps.fulfilment import links, signing
from apps.fulfilment.errors import (
    FulfilmentFailed,
)
from apps.fulfilment.models import Entitlement, new_certificate_code
from apps.fulfilment.services.passes import certificate_message, pass_token_make
from apps.orders import services as order_services
from apps.orders.models import Order, OrderLine, OrderLineEdition, OrderStatus
from apps.orders.services import batch as order_batch
from marketplace import events
from marketplace.errors import InvalidState, NotFound
from marketplace.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)


def fulfilment_schedule(*, order_id: UUID | str) -> None:
    """Schedule the fulfilment of a paid order once the current transaction commits.

    Call it in the transaction that marks the order paid. It only registers an on_commit hook
    enqueueing `fulfilment.fulfil_order`; if the transaction rolls back nothing is sent, and a
    broker error is logged (the `fulfilment.sweep_unfulfilled` beat task re-enqueues). Never raises
    for broker problems. Calling it twice is harmless: fulfilment is idempotent.
    """
    enqueue_on_commit("fulfilment.fulfil_order", order_id=str(order_id))


def _draw_licence_keys(*, product_id: int, count: int) -> tuple[list[int] | None, bool]:
    """Assign `count` available keys of the product, skipping keys other fulfilments hold locked.

    Returns (key ids, whether the product has files). Key ids are None if the product has no key
    pool at all (nothing to draw). Drawn exactly once: the UPDATE flips them to assigned in this
    transaction, SKIP LOCKED keeps concurrent fulfilments off each other's rows. One statement:
    the draw, whether a pool exists and whether files exist (a data-modifying CTE; the EXISTS sees
    the keys as they were before the draw, which exist either way). Raises FulfilmentFailed if
    the pool runs dry.
    """
    table = LicenceKey._meta.db_table
    files = DownloadFile._meta.db_table
    sql = f"""
        WITH drawn AS (
            UPDATE {table} SET status = %s, updated_at = now()
            WHERE id IN (SELECT id FROM {table} WHERE product_id = %s AND status = %s
                         ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
            RETURNING id
        )
        SELECT id, 'key' FROM drawn
        UNION ALL
        SELECT NULL, 'pool' WHERE EXISTS (SELECT 1 FROM {table} WHERE product_id = %s)
        UNION ALL
        SELECT NULL, 'file' WHERE EXISTS (SELECT 1 FROM {files} WHERE product_id = %s)
    """  # noqa: S608 - only table names of ours are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [LicenceKeyStatus.ASSIGNED, product_id, LicenceKeyStatus.AVAILABLE, count, product_id, product_id])
        rows = cursor.fetchall()
    has_files = any(what == "file" for _id, what in rows)
    if not any(what == "pool" for _id, what in rows):
        return None, has_files
    ids = sorted(i for i, what in rows if what == "key")
    if len(ids) < count:
        # SKIP LOCKED passed over keys another fulfilment holds right now; that batch may still
        # give them back (it rolls back when one of its orders fails). While the committed pool
        # covers the shortfall, the draw is retried (a transient error) instead of flagging a
        # paid order for operators over keys that exist.
        held_elsewhere = LicenceKey.objects.filter(product_id=product_id, status=LicenceKeyStatus.AVAILABLE).count()
        if held_elsewhere >= count - len(ids):
            raise LicenceKeysBusy(f"Licence keys of product {product_id} are held by another fulfilment; retrying.")
        raise FulfilmentFailed(f"The licence key pool of product {product_id} has {len(ids)} keys left, {count} needed.")
    return ids, has_files


class LicenceKeysBusy(TimeoutError):
    """A licence key draw came up short only because concurrent draws hold keys: transient, so
    marketplace.tasks.TRANSIENT_ERRORS (TimeoutError) retries the task with backoff, and its
    transaction (with every draw of the batch) rolls back meanwhile."""


def _build_units(*, order: Order, line: OrderLine, indexes: list[int], now: datetime, editions: Sequence[Edition] = (),
                 keys: Sequence[int] = ()) -> list[Entitlement]:
    """Unsaved entitlements for the missing units of one line (per kind): `editions` are the
    line's held editions by serial (collectibles), `keys` the licence keys drawn for it (downloads)."""
    product = line.product
    base = {"user_id": order.user_id, "order": order, "order_line": line, "kind": product.kind,
            "product": product, "exhibitor_id": line.exhibitor_id}
    units: list[Entitlement] = []
    if product.kind == ProductKind.COLLECTIBLE:
        if len(editions) < line.quantity:
            raise FulfilmentFailed(f"Line {line.pk} holds {len(editions)} editions for {line.quantity} units.")
        for index in indexes:
            edition = editions[index]
            code = new_certificate_code()
            message = certificate_message(code=code, product_id=product.pk, exhibitor_id=line.exhibitor_id,
                                          serial=edition.serial, edition_size=product.edition_size or 0, issued_at=now)
            units.append(Entitlement(**base, unit_index=index, edition=edition, serial=edition.serial,
                                     edition_size=product.edition_size, certificate_code=code,
                                     certificate_signature=signing.b64url(signing.sign(message)), created_at=now))
    elif product.kind == ProductKind.SERVICE:
        for index in indexes:
            # access_url (signed with the id) is set once the row has its id.
            units.append(Entitlement(**base, unit_index=index, slot_id=line.slot_id, created_at=now))
    elif product.kind == ProductKind.DOWNLOAD:
        for n, index in enumerate(indexes):
            units.append(Entitlement(**base, unit_index=index, downloads_left=product.download_limit,
                                     licence_key_id=keys[n] if keys else None, created_at=now))
    elif product.kind == ProductKind.PASS:
        for index in indexes:
            units.append(Entitlement(**base, unit_index=index, valid_from=product.pass_valid_from,
                                     valid_until=product.pass_valid_until, created_at=now))
    else:
        raise FulfilmentFailed(f"Unknown product kind {product.kind!r}.")
    return units


class _Batch:
    """The orders one fulfilment locked (its own first, when `own`), their lines and the units each
    line lacks."""

    def __init__(self, orders: list[Order], *, own: bool = True) -> None:
        self.orders = orders
        self.own = own
        self.lines: dict[Any, list[OrderLine]] = {order.pk: [] for order in orders}
        for line in OrderLine.objects.filter(order_id__in=list(self.lines)).select_related("product").order_by("id"):
            self.lines[line.order_id].append(line)
        existing = set(Entitlement.objects.filter(order_id__in=list(self.lines)).values_list("order_line_id", "unit_index"))
        self.missing = {line.pk: [i for i in range(line.quantity) if (line.pk, i) not in existing]
                        for lines in self.lines.values() for line in lines}
        self.keys: dict[int, list[int]] = {}

    def wanting(self, kind: str) -> list[OrderLine]:
        return [line for order in self.orders for line in self.lines[order.pk]
                if self.missing[line.pk] and line.product.kind == kind]

    def drop(self, order_ids: set[Any], error: FulfilmentFailed) -> None:
        """Leave failing orders to their own task (which flags them); raise if the first is one
        (the task's own order)."""
        if self.own and self.orders[0].pk in order_ids:
            raise error
        logger.info("fulfil batch: %s orders left to their own task: %s", len(order_ids), error)
        self.orders = [order for order in self.orders if order.pk not in order_ids]

    def draw_keys(self) -> None:
        """Licence keys for the download lines, one draw per product for the whole batch. A product
        that cannot deliver drops the orders that want it (all draws are undone and redone)."""
        while True:
            by_product: dict[int, list[OrderLine]] = {}
            for line in self.wanting(ProductKind.DOWNLOAD):
                by_product.setdefault(line.product_id, []).append(line)
            if not by_product:
                return
            # A savepoint undoes the draws when an order is left out; alone, a failure ends it all.
            try:
                with transaction.atomic() if len(self.orders) > 1 or not self.own else nullcontext():
                    self.keys = {}
                    for product_id, lines in sorted(by_product.items()):
                        try:
                            drawn, has_files = _draw_licence_keys(
                                product_id=product_id, count=sum(len(self.missing[line.pk]) for line in lines))
                            if not drawn and not has_files:
                                # Never "fulfilled" with nothing delivered: the task flags the order.
                                raise FulfilmentFailed(f"Download product {product_id} has no file and no licence key to deliver.")
                        except FulfilmentFailed as exc:
                            exc.order_ids = {line.order_id for line in lines}  # type: ignore[attr-defined]
                            raise
                        pool = iter(drawn or [])
                        for line in lines:
                            self.keys[line.pk] = [next(pool) for _ in self.missing[line.pk]] if drawn else []
                return
            except FulfilmentFailed as exc:
                self.drop(exc.order_ids, exc)  # type: ignore[attr-defined]

    def editions(self) -> dict[int, list[Edition]]:
        """The held editions of the collectible lines, by serial (one query for the batch)."""
        ids = [line.pk for line in self.wanting(ProductKind.COLLECTIBLE)]
        held: dict[int, list[Edition]] = {line_id: [] for line_id in ids}
        if ids:
            for link in OrderLineEdition.objects.filter(line_id__in=ids).select_related("edition").order_by("edition__serial"):
                held[link.line_id].append(link.edition)
        return held

    def build(self, now: datetime) -> dict[Any, list[Entitlement]]:
        editions = self.editions()
        units: dict[Any, list[Entitlement]] = {}
        for order in list(self.orders):
            try:
                units[order.pk] = [unit for line in self.lines[order.pk] if self.missing[line.pk]
                                   for unit in _build_units(order=order, line=line, indexes=self.missing[line.pk], now=now,
                                                            editions=editions.get(line.pk, ()), keys=self.keys.get(line.pk, ()))]
            except FulfilmentFailed as exc:
                self.drop({order.pk}, exc)
        return units


def fulfilment_fulfil_orders(*, order_id: UUID | str, batch_size: int | None = None,
                             now: datetime | None = None) -> dict[Any, list[Entitlement]]:
    """Deliver every unit of a paid order and mark it fulfilled, together with up to `batch_size`
    (default settings.FULFILMENT["BATCH_SIZE"]) - 1 other paid orders waiting for fulfilment, in
    one transaction. Returns {order id: units created} for the orders fulfilled (`order_id`'s first
    when this call fulfilled it).

    Locks the order row (two workers on one order serialise; the second finds it fulfilled), then
    the others with SKIP LOCKED (paid, not flagged, oldest payment first): each still has its own
    task, which then finds it fulfilled, so a backlog is worked off in batches at the cost of one
    short read per remaining task. When the order is locked already (the batch of another worker
    holds it, the usual case for the next tasks of a backlog), the task does not wait idle for that
    batch: it first delivers the next batch of waiting orders (those not locked), commits, and only
    then waits for its own order's lock as before, so two workers deliver two batches side by side
    and the order is still checked, and delivered if that other batch rolled back. Creates only the
    missing entitlements (UNIQUE (order_line, unit_index) backs this up), draws licence keys with
    SKIP LOCKED (one draw per product for the batch), signs certificates and pass tokens, marks the
    orders fulfilled (`orders_mark_fulfilled`: one conditional UPDATE) and emits "order.fulfilled"
    for each (`emit_many`: notifications writes the batch's rows in one go, in this transaction).
    An order that is not paid (already fulfilled, refunded, unpaid) is left alone: returns {}. A
    partially refunded order gets its missing units and the confirmation (not yet delivered), and
    stays partially refunded; only `order_id` itself may be one. Idempotent. Raises
    FulfilmentFailed when `order_id`'s goods cannot be produced (another order that cannot is left
    out of the batch for its own task to flag) and database errors, which the task retries.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.FULFILMENT.get("BATCH_SIZE", 1)
    # Most tasks of a backlog find their order delivered by an earlier batch: one read on the
    # primary (never a replica, which could lag) answers them without a transaction or a lock.
    # `fulfilled` is final for fulfilment (a refund after it has nothing left to deliver).
    state = next(iter(Order.objects.using(DEFAULT_DB_ALIAS).filter(pk=order_id).values_list("status", flat=True)[:1]), None)
    if state == OrderStatus.FULFILLED:
        logger.debug("fulfil of order %s skipped: already fulfilled", order_id)
        return {}
    helped: dict[Any, list[Entitlement]] = {}
    if batch_size > 1 and state is not None:
        with transaction.atomic():
            own = Order.objects.select_for_update(skip_locked=True).filter(pk=order_id).first()
            if own is not None:
                return _fulfil_batch(own, batch_size=batch_size, now=now)
        # Another batch holds the order right now: deliver the next waiting orders meanwhile.
        with transaction.atomic():
            helped = _fulfil_batch(None, batch_size=batch_size, now=now)
    with transaction.atomic():
        own = Order.objects.select_for_update().get(pk=order_id)
        return {**_fulfil_batch(own, batch_size=batch_size, now=now), **helped}


def _fulfil_batch(own: Order | None, *, batch_size: int, now: datetime) -> dict[Any, list[Entitlement]]:
    """The body of `fulfilment_fulfil_orders`, in its transaction: `own` (locked; None for a batch
    of waiting orders only) and up to `batch_size` orders in all, locked with SKIP LOCKED."""
    if own is not None and own.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        logger.info("fulfil of order %s skipped: %s", own.pk, own.status)
        return {}
    waiting = Order.objects.select_for_update(skip_locked=True).filter(status=OrderStatus.PAID, needs_attention=False)
    if own is not None:
        waiting = waiting.exclude(pk=own.pk)
    wanted = batch_size - (own is not None)
    others = list(waiting.order_by("status_changed_at")[:wanted]) if wanted > 0 else []
    if own is None and not others:
        return {}
    batch = _Batch([own, *others] if own is not None else others, own=own is not None)
    batch.draw_keys()
    units = batch.build(now)
    created = [unit for order in batch.orders for unit in units[order.pk]]
    if created:
        Entitlement.objects.bulk_create(created)
        # Who holds which edition, for the drops' holder priority (catalog cannot read entitlements).
        drops.edition_holdings_set(holders={u.edition_id: u.user_id for u in created if u.edition_id is not None}, now=now)
    for unit in created:
        if unit.kind == ProductKind.PASS:
            unit.pass_token = pass_token_make(entitlement_id=unit.pk, valid_from=unit.valid_from, valid_until=unit.valid_until)
        elif unit.kind == ProductKind.SERVICE:
            unit.access_url = links.booking_url(unit)
    passes = [unit for unit in created if unit.kind == ProductKind.PASS]
    if passes:
        Entitlement.objects.bulk_update(passes, ["pass_token"])
    bookings = [unit for unit in created if unit.kind == ProductKind.SERVICE]
    if bookings:
        Entitlement.objects.bulk_update(bookings, ["access_url"])
    order_batch.orders_mark_fulfilled(order_ids=[o.pk for o in batch.orders if o.status == OrderStatus.PAID])
    # Plain data, so the notifications' subscriber needs no query of its own.
    events.emit_many("order.fulfilled", [{
        "order_id": str(order.pk), "order_number": order.number, "user_id": order.user_id, "currency": order.currency,
        "total": order.total, "delivered": order.status == OrderStatus.PAID,
        "lines": [{"line_id": line.pk, "product_id": line.product_id, "exhibitor_id": line.exhibitor_id,
                   "title": line.title, "quantity": line.quantity, "unit_price": line.unit_price, "total": line.total}
                  for line in batch.lines[order.pk]],
    } for order in batch.orders])
    logger.info("orders fulfilled: %s (batch of %s), %s entitlements created", own.pk if own is not None else "waiting orders",
                len(batch.orders), len(created))
    return {order.pk: units[order.pk] for order in batch.orders}


def fulfilment_fulfil_order(*, order_id: UUID | str, now: datetime | None = None) -> list[Entitlement]:
    """Fulfil this one paid order (`fulfilment_fulfil_orders` with a batch of one). Returns the
    units created. Idempotent; raises as that function does."""
    return fulfilment_fulfil_orders(order_id=order_id, batch_size=1, now=now).get(UUID(str(order_id)), [])


def fulfilment_flag_failed(*, order_id: UUID | str, error: str) -> None:
    """Fulfilment gave up: flag the order for operators and tell them ("operator.attention_needed").
    Idempotent while flagged."""
    with transaction.atomic():
        if not order_services.order_flag_attention(order_id=order_id, error=error):
            return
        order = Order.objects.get(pk=order_id)
        event_id = order.events.order_by("-id").values_list("id", flat=True).first()
        events.emit("operator.attention_needed", reason="fulfilment failed",
                    dedupe_key=f"order:{order.pk}:attention:{event_id}",
                    context={"order_id": str(order.pk), "order_number": order.number, "error": error[:500]})


def fulfilment_retry(*, order_id: UUID | str, actor: Any = None) -> None:
    """Operator action: clear `needs_attention` and schedule fulfilment again (after commit).

    The guard lives here, under the order's lock, not in the callers: NotFound for an unknown
    order, InvalidState unless it is paid. The trail records who retried it (the cleared flag's
    event, or a note when nothing was flagged). Idempotent: fulfilment of an order being
    fulfilled right now does nothing twice.
    """
    with transaction.atomic():
        status = Order.objects.select_for_update().filter(pk=order_id).values_list("status", flat=True).first()
        if status is None:
            raise NotFound()
        if status != OrderStatus.PAID:
            raise InvalidState(_("Only paid orders are fulfilled; this one is %(status)s.") % {"status": OrderStatus(status).label})
        if not order_services.order_clear_attention(order_id=order_id, actor=actor, note="fulfilment retried by an operator"):
            order_services.order_record_note(order_id=order_id, actor=actor, note="fulfilment re-enqueued by an operator")
        fulfilment_schedule(order_id=order_id)


def fulfilment_sweep_unfulfilled(*, now: datetime | None = None, threshold: timedelta | None = None,
                                 limit: int | None = None) -> int:
    """Re-enqueue paid orders still unfulfilled `threshold` after payment (lost message, broker
    outage, dead worker). Orders flagged needs_attention wait for an operator. Returns the count.

    Idempotent: fulfilment of an order already done is a no-op.
    """
    now = now or timezone.now()
    threshold = threshold if threshold is not None else settings.FULFILMENT["SWEEP_THRESHOLD"]
    limit = limit or settings.FULFILMENT["SWEEP_BATCH"]
    ids = list(
        Order.objects.filter(status=OrderStatus.PAID, needs_attention=False, status_changed_at__lte=now - threshold)
        .order_by("status_changed_at").values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        for order_id in ids:
            fulfilment_schedule(order_id=order_id)
    if ids:
        logger.info("sweep re-enqueued %s unfulfilled orders", len(ids))
    return len(ids)
