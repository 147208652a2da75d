"""Writes for products: save (slug, image, kind and edition-size rules), the publish rules and their
blockers, publish/unpublish, delete; a new collectible's editions."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from apps.catalog import images
from apps.catalog.models import (
    BundleComponent,
    DownloadFile,
    Edition,
    EditionStatus,
    LicenceKey,
    LicenceKeyStatus,
    Product,
    ProductKind,
    ServiceSlot,
)
from marketplace.errors import InvalidState, PermissionDenied, ValidationFailed

EDITION_BATCH = 5000


def _generate_editions(*, product: Product, first_serial: int, last_serial: int) -> None:
    for start in range(first_serial, last_serial + 1, EDITION_BATCH):
        stop = min(start + EDITION_BATCH - 1, last_serial)
        Edition.objects.bulk_create(Edition(product=product, serial=n) for n in range(start, stop + 1))


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
    edition size gets them when it is saved), a bundle sellable components whose shares sum to
    100 % (apps.catalog.services.bundles). Reads only; at most one query (a bundle: one more per
    component).
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
    elif product.kind == ProductKind.BUNDLE:
        from apps.catalog.services.bundles import bundle_publish_blockers  # bundles imports this module

        return bundle_publish_blockers(product=product)
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
def product_set_published(*, product: Product, published: bool, actor: Any = None) -> Product:
    """Publish or unpublish. Idempotent: the state it is already in changes nothing.

    Publishing a product that cannot deliver anything yet (product_publish_blockers: no file or
    key, no validity window, no upcoming slot, no editions) is refused with ValidationFailed,
    whose detail names what is missing. Unpublishing is always allowed. With `actor` (a person,
    from the admin), a bundle holding other exhibitors' goods is the operators' to publish or
    unpublish (`bundle_editable_by`): anyone else gets PermissionDenied.
    """
    if actor is not None and product.kind == ProductKind.BUNDLE:
        from apps.catalog.services.bundles import bundle_editable_by  # bundles imports this module

        if not bundle_editable_by(user=actor, bundle=product):
            raise PermissionDenied(_("This bundle holds other exhibitors' goods: only operators publish or unpublish it."))
    locked = Product.objects.select_for_update().get(pk=product.pk)
    if locked.is_published != published:
        if published:
            _refuse_publishing(product_publish_blockers(product=locked))
        Product.objects.filter(pk=product.pk).update(is_published=published)
    product.is_published = published
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete a product nothing was ever sold or held from; otherwise unpublish it instead.

    Raises InvalidState if an edition left `available`, a slot has bookings, stock was taken or
    a key was delivered (orders also PROTECT their products at the database level), or if the
    product is part of a bundle.
    """
    locked = Product.objects.select_for_update().get(pk=product.pk)
    if BundleComponent.objects.filter(component=locked).exists():
        raise InvalidState(_("This product is part of a bundle; take it out of the bundle before deleting it."))
    touched = (
        locked.stock_taken > 0
        or Edition.objects.filter(product=locked).exclude(status=EditionStatus.AVAILABLE).exists()
        or ServiceSlot.objects.filter(product=locked, taken__gt=0).exists()
        or LicenceKey.objects.filter(product=locked, status=LicenceKeyStatus.ASSIGNED).exists()
    )
    if touched:
        raise InvalidState(_("This product has been sold or held; unpublish it instead of deleting it."))
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError as exc:  # order lines still name it (a bundle sold as its components' lines)
        raise InvalidState(_("This product has been sold or held; unpublish it instead of deleting it.")) from exc
