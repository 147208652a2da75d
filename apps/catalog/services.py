"""Writes for the catalog: products, editions, slots, files and licence keys (DESIGN.md habit 1)."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from apps.catalog.models import DownloadFile, Edition, LicenceKey, Product, ProductKind, ServiceSlot
from marketplace.errors import InvalidState, ValidationFailed

EDITION_BATCH = 5000


def _generate_editions(*, product: Product, first_serial: int, last_serial: int) -> None:
    for start in range(first_serial, last_serial + 1, EDITION_BATCH):
        stop = min(start + EDITION_BATCH - 1, last_serial)
        Edition.objects.bulk_create(Edition(product=product, serial=n) for n in range(start, stop + 1))


@transaction.atomic
def product_save(*, product: Product) -> Product:
    """Create or update a product after validation; a new collectible gets its N editions in bulk.

    The edition size is fixed once editions exist ("#n of N" is printed on certificates), so a
    change to it is refused with ValidationFailed. Not idempotent for creation.
    """
    product.full_clean()
    creating = product._state.adding
    if not creating and product.kind == ProductKind.COLLECTIBLE:
        stored = Product.objects.select_for_update().only("edition_size", "kind").get(pk=product.pk)
        if stored.edition_size != product.edition_size or stored.kind != product.kind:
            raise ValidationFailed("The edition size of a collectible cannot change after it is created.", attr="edition_size")
    elif not creating:
        stored = Product.objects.only("kind").get(pk=product.pk)
        if stored.kind != product.kind:
            raise ValidationFailed("A product's kind cannot change after it is created.", attr="kind")
    product.save()
    if creating and product.kind == ProductKind.COLLECTIBLE and product.edition_size:
        _generate_editions(product=product, first_serial=1, last_serial=product.edition_size)
    return product


@transaction.atomic
def product_set_published(*, product: Product, published: bool) -> Product:
    """Publish or unpublish. Idempotent."""
    Product.objects.filter(pk=product.pk).update(is_published=published)
    product.is_published = published
    return product


@transaction.atomic
def slot_save(*, slot: ServiceSlot) -> ServiceSlot:
    """Create or update a service slot. Capacity below what is already booked is refused."""
    if slot.product.kind != ProductKind.SERVICE:
        raise ValidationFailed("Slots belong to service products.", attr="product")
    slot.full_clean()
    if not slot._state.adding:
        taken = ServiceSlot.objects.select_for_update().values_list("taken", flat=True).get(pk=slot.pk)
        if slot.capacity < taken:
            raise ValidationFailed(f"{taken} places are already booked.", attr="capacity")
    slot.save()
    return slot


@transaction.atomic
def slots_create(*, product: Product, windows: Iterable[tuple[datetime, datetime]], capacity: int) -> list[ServiceSlot]:
    """Create many slots for a service in one statement."""
    if product.kind != ProductKind.SERVICE:
        raise ValidationFailed("Slots belong to service products.", attr="product")
    slots = [ServiceSlot(product=product, starts_at=start, ends_at=end, capacity=capacity) for start, end in windows]
    for slot in slots:
        slot.full_clean(exclude=["product"])
    return ServiceSlot.objects.bulk_create(slots)


@transaction.atomic
def slot_delete(*, slot: ServiceSlot) -> None:
    """Delete a slot nobody has booked."""
    locked = ServiceSlot.objects.select_for_update().get(pk=slot.pk)
    if locked.taken:
        raise InvalidState("This slot has bookings and cannot be deleted.")
    locked.delete()


@transaction.atomic
def download_file_save(*, download_file: DownloadFile) -> DownloadFile:
    if download_file.product.kind != ProductKind.DOWNLOAD:
        raise ValidationFailed("Files belong to download products.", attr="product")
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
        raise ValidationFailed("Licence keys belong to download products.", attr="product")
    cleaned = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    before = LicenceKey.objects.filter(product=product).count()
    LicenceKey.objects.bulk_create([LicenceKey(product=product, key=k) for k in cleaned], ignore_conflicts=True)
    return LicenceKey.objects.filter(product=product).count() - before


@transaction.atomic
def licence_key_save(*, licence_key: LicenceKey) -> LicenceKey:
    if licence_key.product.kind != ProductKind.DOWNLOAD:
        raise ValidationFailed("Licence keys belong to download products.", attr="product")
    licence_key.full_clean()
    licence_key.save()
    return licence_key
