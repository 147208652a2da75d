"""Writes for what a product delivers: service slots, download files and licence keys."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import (
    DownloadFile,
    LicenceKey,
    LicenceKeyStatus,
    Product,
    ProductKind,
    ServiceSlot,
)
from marketplace.errors import InvalidState, ValidationFailed


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
