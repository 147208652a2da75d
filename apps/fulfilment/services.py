"""Fulfilment services: turn paid orders into entitlements, and revoke them on refund.

All writes of apps.fulfilment happen here (DESIGN.md). Tasks in tasks.py are thin wrappers.
"""

from __future__ import annotations

import binascii
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.catalog import services as catalog_services
from apps.catalog.models import DownloadFile, Edition, LicenceKey, LicenceKeyStatus, ProductKind
from apps.fulfilment import links, signing
from apps.fulfilment.errors import (
    AlreadyRedeemed,
    DownloadsExhausted,
    EntitlementRevoked,
    FulfilmentFailed,
    LinkExpired,
    PassNotValidNow,
    PassRevoked,
)
from apps.fulfilment.models import Entitlement, EntitlementStatus, new_certificate_code, new_nonce
from apps.orders import services as order_services
from apps.orders.models import Order, OrderLine, OrderStatus
from marketplace import events
from marketplace.errors import NotFound
from marketplace.tasks import enqueue_on_commit
from marketplace.tenancy import can_access_exhibitor
from marketplace.transitions import record_transitions

logger = logging.getLogger(__name__)

DOWNLOAD_SALT = "fulfilment.download"


def fulfilment_schedule(*, order_id: UUID | str) -> None:
    """Schedule the fulfilment of a paid order once the current transaction commits.

    Call it in the transaction that marks the order paid. It only registers an on_commit hook
    enqueueing `fulfilment.fulfil_order`; if the transaction rolls back nothing is sent, and a
    broker error is logged (the `fulfilment.sweep_unfulfilled` beat task re-enqueues). Never raises
    for broker problems. Calling it twice is harmless: fulfilment is idempotent.
    """
    enqueue_on_commit("fulfilment.fulfil_order", order_id=str(order_id))


def entitlements_revoke_schedule(*, order_line_ids: Iterable[int], reason: str) -> None:
    """Schedule the revocation of every entitlement of these order lines after commit.

    Call it in the transaction that records the refund. Enqueues `fulfilment.revoke_lines`
    on commit (broker errors logged, not raised). Revocation is idempotent, so scheduling twice is
    harmless. Releasing catalog inventory for the lines is part of the revocation.
    """
    ids = sorted({int(i) for i in order_line_ids})
    if not ids:
        return
    enqueue_on_commit("fulfilment.revoke_lines", order_line_ids=ids, reason=reason)


# --- Signed artefacts ------------------------------------------------------------------------------


def certificate_message(*, code: str, product_id: int, exhibitor_id: int, serial: int, edition_size: int,
                        issued_at: datetime) -> bytes:
    """The exact bytes a certificate signature covers (documented so anyone can verify it)."""
    return f"expo-cert-v1|{code}|{product_id}|{exhibitor_id}|{serial}|{edition_size}|{int(issued_at.timestamp())}".encode()


def pass_token_make(*, entitlement_id: int, valid_from: datetime | None, valid_until: datetime | None) -> str:
    """`v1.<payload>.<signature>`: payload "id|from|until|key id" (epoch seconds, 0 = open), Ed25519."""
    payload = (f"{entitlement_id}|{int(valid_from.timestamp()) if valid_from else 0}|"
               f"{int(valid_until.timestamp()) if valid_until else 0}|{signing.key_id()}").encode()
    return f"v1.{signing.b64url(payload)}.{signing.b64url(signing.sign(payload))}"


def pass_token_read(token: str) -> int | None:
    """The entitlement id of a genuine token, or None for anything forged, malformed or foreign-keyed."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1" or len(token) > 300:
        return None
    try:
        payload = signing.b64url_decode(parts[1])
    except (binascii.Error, ValueError):
        return None
    signature = signing.decode_signature(parts[2])
    if signature is None or not signing.verify(payload, signature):
        return None
    fields = payload.decode(errors="replace").split("|")
    if len(fields) != 4 or not fields[0].isdigit():
        return None
    return int(fields[0])


def download_token_make(*, entitlement: Entitlement, file_id: int) -> str:
    """A signed, timestamped token for one file of a download entitlement (TimestampSigner).

    The token is the link's only credential: `<id>.<file id>.<nonce tag>:<time>:<HMAC>`, bound to
    the entitlement, the file and the entitlement's nonce (revocation replaces it), unforgeable
    without SECRET_KEY, expiring after DOWNLOAD_LINK_TTL.
    """
    return TimestampSigner(salt=DOWNLOAD_SALT).sign(f"{entitlement.pk}.{file_id}.{signing.nonce_tag(entitlement.nonce)}")


# --- Fulfilment ------------------------------------------------------------------------------------


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
    """Operator action: clear `needs_attention` and schedule fulfilment again. Idempotent."""
    with transaction.atomic():
        order_services.order_clear_attention(order_id=order_id, actor=actor, note="fulfilment retried by an operator")
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


# --- Revocation ------------------------------------------------------------------------------------


def entitlements_revoke_lines(*, order_line_ids: Iterable[int], reason: str, now: datetime | None = None) -> int:
    """Revoke every unit of these order lines and give their inventory back, once.

    Certificates become invalid, download links and access links die (nonce replaced), passes
    cannot be redeemed, bookings release their slot place, editions go back to the exhibitor
    (available), stock comes back. Licence keys stay assigned (never reissued). Units never
    fulfilled get a revoked row, so a late fulfilment cannot deliver them. Locks the orders (same
    lock as fulfilment). Idempotent: only units changing state now release inventory. Returns
    the number of units revoked by this call. Tells nobody: the exhibitors' sale_refunded is
    written by notifications when the refund succeeds ("refund.succeeded").
    """
    now = now or timezone.now()
    ids = sorted({int(i) for i in order_line_ids})
    if not ids:
        return 0
    with transaction.atomic():
        order_ids = sorted({str(o) for o in OrderLine.objects.filter(id__in=ids).values_list("order_id", flat=True)})
        orders = {str(o.pk): o for o in Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk")}
        lines = list(OrderLine.objects.filter(id__in=ids).select_related("product").order_by("id"))
        units = {(u.order_line_id, u.unit_index): u for u in Entitlement.objects.select_for_update().filter(order_line_id__in=ids)}
        to_revoke: list[int] = []
        stubs: list[Entitlement] = []
        changed_lines: dict[int, int] = {}
        for line in lines:
            for index in range(line.quantity):
                unit = units.get((line.pk, index))
                if unit is None:
                    stubs.append(Entitlement(
                        user_id=orders[str(line.order_id)].user_id, order_id=line.order_id, order_line=line, unit_index=index,
                        kind=line.product.kind, product=line.product, exhibitor_id=line.exhibitor_id, slot_id=line.slot_id,
                        status=EntitlementStatus.REVOKED, revoked_at=now, revoke_reason=reason[:40]))
                elif unit.status == EntitlementStatus.ACTIVE:
                    to_revoke.append(unit.pk)
                else:
                    continue
                changed_lines[line.pk] = changed_lines.get(line.pk, 0) + 1
        if to_revoke:
            # A fresh nonce kills every download token and access link minted before.
            for pk in to_revoke:
                Entitlement.objects.filter(pk=pk).update(status=EntitlementStatus.REVOKED, revoked_at=now,
                                                         revoke_reason=reason[:40], nonce=new_nonce())
            # The units were locked above and seen active: these updates matched; audit them.
            record_transitions(Entitlement, to_revoke, name="revoke", from_state=EntitlementStatus.ACTIVE,
                               to_state=EntitlementStatus.REVOKED, reason=reason)
        if stubs:
            Entitlement.objects.bulk_create(stubs)
            record_transitions(Entitlement, [stub.pk for stub in stubs], name="revoke", from_state="",
                               to_state=EntitlementStatus.REVOKED, reason=reason, payload={"never_fulfilled": True})
        slots: dict[int, int] = {}
        stock: dict[int, int] = {}
        collectible_lines: list[int] = []
        for line in lines:
            count = changed_lines.get(line.pk, 0)
            if not count:
                continue
            if line.product.kind == ProductKind.COLLECTIBLE:
                collectible_lines.append(line.pk)
            if line.slot_id is not None:
                slots[line.slot_id] = slots.get(line.slot_id, 0) + count
            if line.stock_held:
                stock[line.product_id] = stock.get(line.product_id, 0) + min(count, line.stock_held)
        edition_ids = order_services.order_lines_unlink_editions(line_ids=collectible_lines) if collectible_lines else []
        if edition_ids:
            catalog_services.inventory_restock_editions(edition_ids=edition_ids)
        if slots or stock:
            catalog_services.inventory_release(slots=slots, stock=stock)
        product_ids = sorted({line.product_id for line in lines if line.pk in changed_lines})
        slot_ids = sorted(slots)
        transaction.on_commit(lambda: catalog_services.inventory_clear_flags(product_ids=product_ids, slot_ids=slot_ids))
    revoked = sum(changed_lines.values())
    logger.info("revoked %s units of lines %s (%s)", revoked, ids, reason)
    return revoked


# --- Shopper actions -------------------------------------------------------------------------------


def download_check(*, token: str, now: datetime | None = None) -> tuple[Entitlement, DownloadFile]:
    """The entitlement and file a download token opens, counting nothing (a read; HEAD uses it).

    The token is the credential: whoever holds the link may use it, with or without a session
    (it is minted for the owner only, and cannot be derived from ids). Raises NotFound for a
    tampered or malformed token or an unknown file; LinkExpired past DOWNLOAD_LINK_TTL or the
    entitlement's own expiry; EntitlementRevoked for a refunded item (its nonce changed);
    DownloadsExhausted when none are left.
    """
    now = now or timezone.now()
    signer = TimestampSigner(salt=DOWNLOAD_SALT)
    try:
        value = signer.unsign(token, max_age=settings.FULFILMENT["DOWNLOAD_LINK_TTL"])
    except SignatureExpired:
        raise LinkExpired() from None
    except BadSignature:
        raise NotFound() from None
    try:
        entitlement_id, file_id, tag = value.split(".", 2)
        entitlement = Entitlement.objects.get(pk=int(entitlement_id), kind=ProductKind.DOWNLOAD)
    except (ValueError, Entitlement.DoesNotExist):
        raise NotFound() from None
    if entitlement.status != EntitlementStatus.ACTIVE or not secrets.compare_digest(tag, signing.nonce_tag(entitlement.nonce)):
        raise EntitlementRevoked()
    if entitlement.download_expires_at is not None and entitlement.download_expires_at <= now:
        raise LinkExpired()
    download_file = DownloadFile.objects.filter(pk=int(file_id), product_id=entitlement.product_id).first()
    if download_file is None:
        raise NotFound()
    if entitlement.downloads_left is not None and entitlement.downloads_left <= 0:
        raise DownloadsExhausted()
    return entitlement, download_file


def download_consume(*, token: str, now: datetime | None = None) -> tuple[Entitlement, DownloadFile]:
    """Check a download token (see `download_check` for what is raised) and count one download.

    Only a successful call counts, once, by a conditional UPDATE (active, same nonce,
    downloads_left > 0), so concurrent downloads cannot go below zero and a link revoked
    meanwhile counts nothing. Not idempotent: each call is one download.
    """
    entitlement, download_file = download_check(token=token, now=now)
    if entitlement.downloads_left is not None:
        counted = Entitlement.objects.filter(pk=entitlement.pk, status=EntitlementStatus.ACTIVE, nonce=entitlement.nonce,
                                             downloads_left__gt=0).update(downloads_left=F("downloads_left") - 1)
        if not counted:
            entitlement.refresh_from_db(fields=["status"])
            if entitlement.status != EntitlementStatus.ACTIVE:
                raise EntitlementRevoked()
            raise DownloadsExhausted()
        entitlement.downloads_left -= 1
    return entitlement, download_file


def pass_redeem(*, token: str, user: Any, now: datetime | None = None) -> Entitlement:
    """Redeem a pass at the booth. For staff of the pass's exhibitor and operators.

    Raises NotFound for a forged or malformed token or a pass of another exhibitor; PassRevoked;
    PassNotValidNow outside its validity; AlreadyRedeemed the second time (a conditional UPDATE
    on redeemed_at IS NULL decides, so two scanners racing redeem it once).
    """
    now = now or timezone.now()
    entitlement_id = pass_token_read(token)
    if entitlement_id is None:
        raise NotFound()
    entitlement = Entitlement.objects.filter(pk=entitlement_id, kind=ProductKind.PASS).select_related("product").first()
    if entitlement is None or not can_access_exhibitor(user, entitlement.exhibitor_id):
        raise NotFound()
    if entitlement.status != EntitlementStatus.ACTIVE:
        raise PassRevoked()
    if (entitlement.valid_from and now < entitlement.valid_from) or (entitlement.valid_until and now >= entitlement.valid_until):
        raise PassNotValidNow()
    redeemed = Entitlement.objects.filter(pk=entitlement.pk, status=EntitlementStatus.ACTIVE, redeemed_at__isnull=True).update(
        redeemed_at=now, redeemed_by=user)
    if not redeemed:
        entitlement.refresh_from_db(fields=["status", "redeemed_at"])
        if entitlement.status != EntitlementStatus.ACTIVE:
            raise PassRevoked()
        raise AlreadyRedeemed(f"This pass was redeemed at {entitlement.redeemed_at.isoformat() if entitlement.redeemed_at else '?'}.")
    entitlement.redeemed_at = now
    entitlement.redeemed_by = user
    return entitlement
