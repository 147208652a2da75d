"""Fulfilment: turn paid orders into entitlements (editions' certificates, bookings, licence keys,
downloads, passes), flag failures for operators, retry and sweep."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import DownloadFile, Edition, LicenceKey, LicenceKeyStatus, ProductKind
from apps.fulfilment import links, signing
from apps.fulfilment.errors import (
    FulfilmentFailed,
)
from apps.fulfilment.models import Entitlement, new_certificate_code
from apps.fulfilment.services.passes import certificate_message, pass_token_make
from apps.orders import services as order_services
from apps.orders.models import Order, OrderLine, OrderStatus
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
        raise FulfilmentFailed(f"The licence key pool of product {product_id} has {len(ids)} keys left, {count} needed.")
    return ids, has_files


def _build_units(*, order: Order, line: OrderLine, indexes: list[int], now: datetime) -> list[Entitlement]:
    """Unsaved entitlements for the missing units of one line (per kind)."""
    product = line.product
    base = {"user_id": order.user_id, "order": order, "order_line": line, "kind": product.kind,
            "product": product, "exhibitor_id": line.exhibitor_id}
    units: list[Entitlement] = []
    if product.kind == ProductKind.COLLECTIBLE:
        editions = list(Edition.objects.filter(order_line_link__line=line).order_by("serial"))
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
        drawn, has_files = _draw_licence_keys(product_id=product.pk, count=len(indexes))
        keys = drawn or []
        if not keys and not has_files:
            # Never "fulfilled" with nothing delivered: the task flags the order for operators.
            raise FulfilmentFailed(f"Download product {product.pk} has no file and no licence key to deliver.")
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


def fulfilment_fulfil_order(*, order_id: UUID | str, now: datetime | None = None) -> list[Entitlement]:
    """Deliver every unit of a paid order and mark it fulfilled, in one transaction.

    Locks the order row (two workers on one order serialise; the second finds it fulfilled).
    Creates only the missing entitlements (UNIQUE (order_line, unit_index) backs this up), draws
    licence keys with SKIP LOCKED, signs certificates and pass tokens, marks the order fulfilled
    and emits "order.fulfilled" (notifications writes, in this transaction, the shopper's
    order_confirmed and, when delivered, each exhibitor's new_sale). An order that is not paid
    (already fulfilled, refunded, unpaid) is left alone: returns []. A partially refunded order
    gets its missing units and the confirmation (not yet delivered), and stays partially refunded.
    Idempotent. Raises FulfilmentFailed when the goods cannot be produced (e.g. an empty licence
    key pool) and database errors, which the task retries.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
            logger.info("fulfil of order %s skipped: %s", order_id, order.status)
            return []
        lines = list(order.lines.select_related("product").order_by("id"))
        existing = set(Entitlement.objects.filter(order=order).values_list("order_line_id", "unit_index"))
        created: list[Entitlement] = []
        for line in lines:
            missing = [i for i in range(line.quantity) if (line.pk, i) not in existing]
            if missing:
                created.extend(_build_units(order=order, line=line, indexes=missing, now=now))
        if created:
            Entitlement.objects.bulk_create(created)
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
        delivered = order.status == OrderStatus.PAID
        if delivered:
            order_services.order_mark_fulfilled(order_id=order.pk)
        # Plain data, so the notifications' subscriber needs no query of its own.
        events.emit(
            "order.fulfilled", order_id=str(order.pk), order_number=order.number, user_id=order.user_id,
            currency=order.currency, total=order.total, delivered=delivered,
            lines=[{"line_id": line.pk, "product_id": line.product_id, "exhibitor_id": line.exhibitor_id,
                    "title": line.title, "quantity": line.quantity, "unit_price": line.unit_price, "total": line.total}
                   for line in lines],
        )
    logger.info("order %s fulfilled: %s entitlements created", order_id, len(created))
    return created


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
