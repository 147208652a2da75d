"""Writes for the catalog: products, editions, slots, files and licence keys (DESIGN.md habit 1)."""

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from apps.catalog import images
from apps.catalog.models import (
    DownloadFile,
    Edition,
    EditionStatus,
    LicenceKey,
    LicenceKeyStatus,
    Product,
    ProductKind,
    ServiceSlot,
)
from marketplace.errors import InvalidState, SlotFull, SoldOut, ValidationFailed

EDITION_BATCH = 5000


def _generate_editions(*, product: Product, first_serial: int, last_serial: int) -> None:
    for start in range(first_serial, last_serial + 1, EDITION_BATCH):
        stop = min(start + EDITION_BATCH - 1, last_serial)
        Edition.objects.bulk_create(Edition(product=product, serial=n) for n in range(start, stop + 1))


# --- Products ---------------------------------------------------------------------------------------

# Publish blockers a save can cause on an already-published product (its own fields); the others
# depend on inventory that changes by itself (slots pass, keys run out) and are checked when
# a product goes on sale.
FIELD_BLOCKER_ATTRS = frozenset({"pass_valid_from", "pass_valid_until"})
SLUG_MAX_LENGTH = 80


@dataclass(frozen=True)
class PublishBlocker:
    """Why a product cannot deliver anything yet: the field or inline to fix, and what to do."""

    attr: str
    message: str | Promise


def product_publish_blockers(*, product: Product, now: datetime | None = None) -> list[PublishBlocker]:
    """What keeps `product` from delivering anything to a buyer; empty when it may be published.

    A download needs a file or an available licence key, a pass a validity window that has not
    ended, a service an upcoming slot, a collectible its editions (an unsaved collectible with an
    edition size gets them when it is saved). Reads only; at most one query.
    """
    now = now or timezone.now()
    pk = product.pk
    if product.kind == ProductKind.PASS:
        if not product.pass_valid_from or not product.pass_valid_until:
            return [PublishBlocker("pass_valid_from", _(
                "A pass needs its validity window (valid from and valid until) before it can be published."))]
        if product.pass_valid_until <= now:
            return [PublishBlocker("pass_valid_until", _(
                "This pass's validity window has already ended; move it to a future date before publishing."))]
    elif product.kind == ProductKind.DOWNLOAD:
        deliverable = pk is not None and (
            DownloadFile.objects.filter(product_id=pk).exists()
            or LicenceKey.objects.filter(product_id=pk, status=LicenceKeyStatus.AVAILABLE).exists()
        )
        if not deliverable:
            return [PublishBlocker("files", _(
                "A download needs at least one file or an unused licence key before it can be published."))]
    elif product.kind == ProductKind.SERVICE:
        if pk is None or not ServiceSlot.objects.filter(product_id=pk, starts_at__gt=now).exists():
            return [PublishBlocker("slots", _(
                "A service needs at least one upcoming time slot before it can be published."))]
    elif product.kind == ProductKind.COLLECTIBLE:
        has_editions = Edition.objects.filter(product_id=pk).exists() if pk is not None else bool(product.edition_size)
        if not has_editions:
            return [PublishBlocker("edition_size", _(
                "A collectible needs its numbered editions before it can be published."))]
    return []


def _refuse_publishing(blockers: Sequence[PublishBlocker]) -> None:
    if blockers:
        raise ValidationFailed(" ".join(str(b.message) for b in blockers), attr=blockers[0].attr)


def product_slug_suggest(*, exhibitor_id: int | None, title: str, kind: str = "", exclude_pk: int | None = None) -> str:
    """A slug made from the title, free among the exhibitor's products: "tea-pass", "tea-pass-2"...

    A title with no Latin letters or digits (a Chinese one, say) gives the kind ("pass", "pass-2").
    Reads only; the unique constraint stays the authority (product_save retries on a race).
    """
    base = slugify(title)[: SLUG_MAX_LENGTH - 8].strip("-") or slugify(kind) or "product"
    siblings = Product.objects.filter(exhibitor_id=exhibitor_id or 0, slug__startswith=base)
    if exclude_pk is not None:
        siblings = siblings.exclude(pk=exclude_pk)
    taken = set(siblings.values_list("slug", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _store_new_image(product: Product) -> None:
    """Validate a just-uploaded image, store it under a fresh name and make its thumbnails now,
    so the catalog never makes one while a shopper waits."""
    try:
        extension = images.image_validate(product.image.file)
        product.image.save(images.image_upload_name(extension), product.image.file, save=False)
        images.thumbnails_generate(product.image)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), attr="image") from exc


@transaction.atomic
def product_save(*, product: Product) -> Product:
    """Create or update a product after validation; a new collectible gets its N editions in bulk.

    - An empty slug is made from the title, unique among the exhibitor's products.
    - A new image is checked (type, size), stored and thumbnailed before the row is written; the
      image it replaces and its thumbnails are deleted after commit.
    - The kind never changes, nor a collectible's edition size ("#n of N" is printed on
      certificates): both are refused with ValidationFailed.
    - A product going on sale (created published, or published by this save) must be able to
      deliver (product_publish_blockers); an already-published product may not lose its pass
      validity window. Refused with ValidationFailed naming what is missing.
    Not idempotent for creation.
    """
    creating = product._state.adding
    auto_slug = not product.slug
    if auto_slug:
        product.slug = product_slug_suggest(exhibitor_id=product.exhibitor_id, title=product.title or "",
                                            kind=product.kind, exclude_pk=product.pk)
    product.full_clean()
    stored = None if creating else (
        Product.objects.select_for_update().only("kind", "edition_size", "is_published", "image").get(pk=product.pk)
    )
    if stored is not None and stored.kind != product.kind:
        raise ValidationFailed(_("A product's kind cannot change after it is created."), attr="kind")
    if stored is not None and product.kind == ProductKind.COLLECTIBLE and stored.edition_size != product.edition_size:
        raise ValidationFailed(_("The edition size of a collectible cannot change after it is created."), attr="edition_size")
    if product.is_published:
        blockers = product_publish_blockers(product=product)
        if stored is not None and stored.is_published:
            blockers = [b for b in blockers if b.attr in FIELD_BLOCKER_ATTRS]
        _refuse_publishing(blockers)

    if product.image and not product.image._committed:
        _store_new_image(product)
    old_image = stored.image.name if stored is not None and stored.image else ""
    if old_image and old_image != product.image.name:
        transaction.on_commit(lambda: images.image_files_delete(old_image))

    for attempt in range(5):
        try:
            with transaction.atomic():
                product.save()
            break
        except IntegrityError:
            # Two products of one exhibitor given the same automatic slug at the same moment.
            if not (auto_slug and creating) or attempt == 4:
                raise
            product.slug = product_slug_suggest(exhibitor_id=product.exhibitor_id, title=product.title or "",
                                                kind=product.kind)
    if creating and product.kind == ProductKind.COLLECTIBLE and product.edition_size:
        _generate_editions(product=product, first_serial=1, last_serial=product.edition_size)
    return product


@transaction.atomic
def product_set_published(*, product: Product, published: bool) -> Product:
    """Publish or unpublish. Idempotent: the state it is already in changes nothing.

    Publishing a product that cannot deliver anything yet (product_publish_blockers: no file or
    key, no validity window, no upcoming slot, no editions) is refused with ValidationFailed,
    whose detail names what is missing. Unpublishing is always allowed.
    """
    locked = Product.objects.select_for_update().get(pk=product.pk)
    if locked.is_published != published:
        if published:
            _refuse_publishing(product_publish_blockers(product=locked))
        Product.objects.filter(pk=product.pk).update(is_published=published)
    product.is_published = published
    return product


@transaction.atomic
def slot_save(*, slot: ServiceSlot) -> ServiceSlot:
    """Create or update a service slot. Capacity below what is already booked is refused."""
    if slot.product.kind != ProductKind.SERVICE:
        raise ValidationFailed(_("Slots belong to service products."), attr="product")
    slot.full_clean()
    if not slot._state.adding:
        taken = ServiceSlot.objects.select_for_update().values_list("taken", flat=True).get(pk=slot.pk)
        if slot.capacity < taken:
            raise ValidationFailed(_("%(count)s places are already booked.") % {"count": taken}, attr="capacity")
    slot.save()
    return slot


@transaction.atomic
def slots_create(*, product: Product, windows: Iterable[tuple[datetime, datetime]], capacity: int) -> list[ServiceSlot]:
    """Create many slots for a service in one statement."""
    if product.kind != ProductKind.SERVICE:
        raise ValidationFailed(_("Slots belong to service products."), attr="product")
    slots = [ServiceSlot(product=product, starts_at=start, ends_at=end, capacity=capacity) for start, end in windows]
    for slot in slots:
        slot.full_clean(exclude=["product"])
    return ServiceSlot.objects.bulk_create(slots)


@transaction.atomic
def slot_delete(*, slot: ServiceSlot) -> None:
    """Delete a slot nobody has booked."""
    locked = ServiceSlot.objects.select_for_update().get(pk=slot.pk)
    if locked.taken:
        raise InvalidState(_("This slot has bookings and cannot be deleted."))
    locked.delete()


@transaction.atomic
def download_file_save(*, download_file: DownloadFile) -> DownloadFile:
    if download_file.product.kind != ProductKind.DOWNLOAD:
        raise ValidationFailed(_("Files belong to download products."), attr="product")
    if download_file.file:
        download_file.size = download_file.file.size or 0
    download_file.save()
    return download_file


@transaction.atomic
def licence_keys_add(*, product: Product, keys: Iterable[str]) -> int:
    """Add keys to a download product's pool; duplicates of existing keys are skipped.

    Idempotent: adding the same keys twice adds them once. Returns the number added.
    """
    if product.kind != ProductKind.DOWNLOAD:
        raise ValidationFailed(_("Licence keys belong to download products."), attr="product")
    cleaned = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    before = LicenceKey.objects.filter(product=product).count()
    LicenceKey.objects.bulk_create([LicenceKey(product=product, key=k) for k in cleaned], ignore_conflicts=True)
    return LicenceKey.objects.filter(product=product).count() - before


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete a product nothing was ever sold or held from; otherwise unpublish it instead.

    Raises InvalidState if an edition left `available`, a slot has bookings, stock was taken or
    a key was delivered (orders also PROTECT their products at the database level).
    """
    locked = Product.objects.select_for_update().get(pk=product.pk)
    touched = (
        locked.stock_taken > 0
        or Edition.objects.filter(product=locked).exclude(status=EditionStatus.AVAILABLE).exists()
        or ServiceSlot.objects.filter(product=locked, taken__gt=0).exists()
        or LicenceKey.objects.filter(product=locked, status=LicenceKeyStatus.ASSIGNED).exists()
    )
    if touched:
        raise InvalidState(_("This product has been sold or held; unpublish it instead of deleting it."))
    locked.delete()


@transaction.atomic
def download_file_delete(*, download_file: DownloadFile) -> None:
    """Delete a download file row and its stored content."""
    download_file.file.delete(save=False)
    download_file.delete()


@transaction.atomic
def licence_key_delete(*, licence_key: LicenceKey) -> None:
    """Delete an unassigned key; an assigned key belongs to a shopper and raises InvalidState."""
    locked = LicenceKey.objects.select_for_update().get(pk=licence_key.pk)
    if locked.status != LicenceKeyStatus.AVAILABLE:
        raise InvalidState(_("This key has been delivered to a shopper and cannot be deleted."))
    locked.delete()


@transaction.atomic
def licence_key_save(*, licence_key: LicenceKey) -> LicenceKey:
    if licence_key.product.kind != ProductKind.DOWNLOAD:
        raise ValidationFailed(_("Licence keys belong to download products."), attr="product")
    licence_key.full_clean()
    licence_key.save()
    return licence_key



# --- Inventory claims (DESIGN.md "Selling limited goods") -----------------------------------------
#
# Called by the orders services inside their one short placement / release transaction; each
# function is one SQL statement whatever the number of products, so placing an order costs the
# same number of queries for 1 line or 10. Postgres decides availability; the Redis flags below only
# let "sold out" and "slot full" be answered without reaching for a row lock.

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
    # up short (LIMIT 0 reads nothing).
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
        FROM picked WHERE e.id = picked.id
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
