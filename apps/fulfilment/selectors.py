"""Reads of fulfilment: the shopper's library, certificates, pass QR codes, the pages behind links."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, cast
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import DownloadFile, ProductKind
from apps.fulfilment import links, signing
from apps.fulfilment.errors import EntitlementRevoked
from apps.fulfilment.models import Entitlement, EntitlementStatus
from apps.fulfilment.provenance import ProvenanceEntry, certificate_provenance
from apps.fulfilment.services.downloads import download_token_make
from apps.fulfilment.services.gifts import entitlement_transferable_at
from apps.orders.models import Order
from marketplace.errors import NotFound

_CERTIFICATE_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")


def is_certificate_code(code: str) -> bool:
    """Could be a certificate code (token_urlsafe): anything else is answered 404 without a query."""
    return bool(code) and _CERTIFICATE_CODE.fullmatch(code) is not None


def library_for_user(*, user: Any) -> QuerySet[Entitlement]:
    """The shopper's entitlements, newest first, with everything the library shows in a fixed
    number of queries whatever the page size (joins plus one prefetch of download files)."""
    return _library(user_id=user.pk)


def _library(*, user_id: int) -> QuerySet[Entitlement]:
    return (
        Entitlement.objects.filter(user_id=user_id)
        .select_related("product", "exhibitor", "order", "slot", "licence_key")
        .prefetch_related(Prefetch("product__files", queryset=DownloadFile.objects.order_by("name", "id")))
    )


@dataclass(frozen=True)
class CertificateView:
    valid: bool
    product: str
    exhibitor: str
    serial: int
    edition_size: int
    issued_at: datetime
    revoked_at: datetime | None
    signature: str
    signed_message: str
    key_id: str
    public_key: str
    provenance: list[ProvenanceEntry] = field(default_factory=list)  # holders, masked, first first
    transferable_at: datetime | None = None  # when the current holder may give it (gifting)


def certificate_get(*, code: str) -> CertificateView:
    """Public certificate check. Raises NotFound for an unknown code. Valid = active and the
    stored signature verifies against the platform key."""
    from apps.fulfilment.services import certificate_message

    # The current row: a gift leaves the giver's row behind as `transferred`, with the same code.
    entitlement = (Entitlement.objects.filter(certificate_code=code).exclude(status=EntitlementStatus.TRANSFERRED)
                   .select_related("product", "exhibitor").first() if is_certificate_code(code) else None)
    if entitlement is None or entitlement.serial is None:
        raise NotFound(_("No certificate has this code."))
    message = certificate_message(code=code, product_id=entitlement.product_id, exhibitor_id=entitlement.exhibitor_id,
                                  serial=entitlement.serial, edition_size=entitlement.edition_size or 0,
                                  issued_at=entitlement.created_at)
    signature = signing.decode_signature(entitlement.certificate_signature)
    genuine = signature is not None and signing.verify(message, signature)
    return CertificateView(
        valid=genuine and entitlement.status == EntitlementStatus.ACTIVE, product=entitlement.product.title,
        exhibitor=entitlement.exhibitor.name, serial=entitlement.serial, edition_size=entitlement.edition_size or 0,
        issued_at=entitlement.created_at, revoked_at=entitlement.revoked_at, signature=entitlement.certificate_signature,
        signed_message=message.decode(), key_id=signing.key_id(), public_key=signing.public_key_b64(),
        provenance=certificate_provenance(code=code),
        transferable_at=entitlement_transferable_at(entitlement) if entitlement.status == EntitlementStatus.ACTIVE else None,
    )


@dataclass(frozen=True)
class LibraryAccess:
    """How the owner may use a library item now: links and secrets, or None/empty when not."""

    booking_url: str | None
    files: list[dict[str, str]]  # [{name, url}] of a download's files, each link signed for the owner
    licence_key: str | None
    pass_token: str | None


def library_item_access(entitlement: Entitlement) -> LibraryAccess:
    """The visibility rule of the library: only an active entitlement (not refunded or revoked)
    shows how to use it (meeting link, download links, licence key, pass token); any other keeps
    its record (what it was, when) and shows none of them. Reads the prefetched files only."""
    if entitlement.status != EntitlementStatus.ACTIVE:
        return LibraryAccess(booking_url=None, files=[], licence_key=None, pass_token=None)
    files: list[dict[str, str]] = []
    if entitlement.kind == ProductKind.DOWNLOAD:
        files = [{"name": download_file.name,
                  "url": links.download_url(token=download_token_make(entitlement=entitlement, file_id=download_file.pk))}
                 for download_file in entitlement.product.files.all()]
    key = entitlement.licence_key
    return LibraryAccess(
        booking_url=links.booking_url(entitlement) if entitlement.kind == ProductKind.SERVICE else None,
        files=files,
        licence_key=key.key if key is not None else None,
        pass_token=entitlement.pass_token if entitlement.kind == ProductKind.PASS else None,
    )


def library_item_get(*, user: Any, entitlement_id: int) -> Entitlement:
    """One of the shopper's entitlements (as the library shows it). NotFound for anyone else's."""
    entitlement = library_for_user(user=user).filter(pk=entitlement_id).first()
    if entitlement is None:
        raise NotFound()
    return entitlement


def _active_pass(entitlement: Entitlement | None) -> str:
    if entitlement is None or not entitlement.pass_token:
        raise NotFound()
    if entitlement.status != EntitlementStatus.ACTIVE:
        raise EntitlementRevoked()
    return entitlement.pass_token


def pass_qr_data(*, user: Any, entitlement_id: int) -> str:
    """The pass token the owner's QR code encodes (what /booth/ scans). NotFound for a foreign or
    non-pass id; EntitlementRevoked for a refunded pass."""
    return _active_pass(Entitlement.objects.filter(pk=entitlement_id, user_id=user.pk, kind=ProductKind.PASS)
                        .only("pass_token", "status").first())


def pass_qr_data_by_link(*, link: str) -> str:
    """The pass token behind a signed QR link (apps.fulfilment.links.pass_qr_url): the link is the
    credential, so the QR opens from an email. NotFound for a forged link or one of a pass whose
    links were replaced; EntitlementRevoked for a refunded pass."""
    read = signing.link_read(purpose=links.PASS_QR, token=link)
    if read is None:
        raise NotFound()
    entitlement_id, _detail, tag = read
    entitlement = Entitlement.objects.filter(pk=entitlement_id, kind=ProductKind.PASS).only("pass_token", "status", "nonce").first()
    if entitlement is not None and entitlement.status == EntitlementStatus.ACTIVE and tag != signing.nonce_tag(entitlement.nonce):
        raise NotFound()
    return _active_pass(entitlement)


def certificate_qr_data(*, code: str) -> str:
    """What a certificate's QR encodes: its public page URL. NotFound for an unknown code."""
    if not is_certificate_code(code) or not Entitlement.objects.filter(certificate_code=code).exists():
        raise NotFound()
    return links.certificate_page_url(code)


# --- Pages for shoppers ------------------------------------------------------------------------------


def localized(obj: Any, field: str) -> str:
    """`obj.<field>` in the active language: the Chinese column (`<field>_zh`, or modeltranslation's
    `<field>_zh_hans`) when the language is Chinese and it is filled, else the field itself."""
    if (translation.get_language() or "").lower().startswith("zh"):
        for name in (f"{field}_zh_hans", f"{field}_zh"):
            value = getattr(obj, name, "")
            if value:
                return str(value)
    return str(getattr(obj, field))


@dataclass(frozen=True)
class CertificatePage:
    code: str
    certificate: CertificateView
    product_title: str
    exhibitor_name: str
    hall: str
    booth: str
    public_key_pem: str


def certificate_page_get(*, code: str) -> CertificatePage:
    """Everything the public certificate page shows. NotFound for an unknown code (the same answer
    for malformed ones: nothing tells a caller how close a guess was)."""
    view = certificate_get(code=code)
    entitlement = (Entitlement.objects.exclude(status=EntitlementStatus.TRANSFERRED).select_related("product", "exhibitor")
                   .get(certificate_code=code))
    return CertificatePage(code=code, certificate=view, product_title=localized(entitlement.product, "title"),
                           exhibitor_name=localized(entitlement.exhibitor, "name"), hall=entitlement.exhibitor.hall,
                           booth=entitlement.exhibitor.booth, public_key_pem=signing.public_key_pem())


class BookingState(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class BookingAccess:
    state: BookingState
    meeting_url: str
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    product_title: str
    exhibitor_name: str
    hall: str
    booth: str
    order_number: str


def booking_meeting_url(entitlement: Entitlement) -> str:
    """The slot's own meeting link, else the product's; "" when the exhibitor has not set one (or
    set something that is not a web link)."""
    for url in (getattr(entitlement.slot, "meeting_url", ""), entitlement.product.meeting_url):
        if url and urlsplit(url).scheme in ("http", "https"):
            return str(url)
    return ""


def booking_access_get(*, token: str, now: datetime | None = None) -> BookingAccess:
    """Where a booking's access link leads now: `open` from BOOKING_OPENS_EARLY before the slot
    until its end (the view redirects to `meeting_url` when there is one), `upcoming` before,
    `ended` after, `cancelled` once refunded. NotFound for a forged link or a replaced one."""
    now = now or timezone.now()
    read = signing.link_read(purpose=links.BOOKING, token=token)
    if read is None:
        raise NotFound()
    entitlement_id, _detail, tag = read
    entitlement = (Entitlement.objects.filter(pk=entitlement_id, kind=ProductKind.SERVICE, slot__isnull=False)
                   .select_related("slot", "product", "exhibitor", "order").first())
    if entitlement is None or entitlement.slot is None:
        raise NotFound()
    slot = entitlement.slot
    opens_at = slot.starts_at - cast(timedelta, settings.FULFILMENT.get("BOOKING_OPENS_EARLY", timedelta(minutes=10)))
    if entitlement.status != EntitlementStatus.ACTIVE:
        state = BookingState.CANCELLED
    elif tag != signing.nonce_tag(entitlement.nonce):
        raise NotFound()
    elif now < opens_at:
        state = BookingState.UPCOMING
    elif now < slot.ends_at:
        state = BookingState.OPEN
    else:
        state = BookingState.ENDED
    return BookingAccess(
        state=state, meeting_url=booking_meeting_url(entitlement) if state == BookingState.OPEN else "",
        starts_at=slot.starts_at, ends_at=slot.ends_at, opens_at=opens_at,
        product_title=localized(entitlement.product, "title"), exhibitor_name=localized(entitlement.exhibitor, "name"),
        hall=entitlement.exhibitor.hall, booth=entitlement.exhibitor.booth, order_number=entitlement.order.number,
    )


def goods_get(*, token: str) -> tuple[Any, list[Entitlement]]:
    """The order and its entitlements behind a goods-page link (the confirmation email's link).
    NotFound for a forged link or an order with nothing delivered yet."""
    read = links.goods_token_read(token)
    if read is None:
        raise NotFound()
    order_id, user_id = read

    order = Order.objects.filter(pk=order_id, user_id=user_id).first() if _is_uuid(order_id) else None
    if order is None:
        raise NotFound()
    items = list(_library(user_id=user_id).filter(order_id=order.pk).order_by("order_line_id", "unit_index"))
    return order, items


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def download_filename(download_file: DownloadFile) -> str:
    """The name a downloaded file is saved under: the exhibitor's display name, with the stored
    file's extension added when the display name has no known one ("Tea guide" -> "Tea guide.pdf",
    "Guide v1.2" -> "Guide v1.2.pdf"); path separators and control characters removed."""
    name = "".join(ch for ch in (download_file.name or "") if ch.isprintable() and ch not in '/\\"').strip(" .")
    stored = PurePosixPath(download_file.file.name or "").name
    extension = PurePosixPath(stored).suffix
    if not name:
        return stored or "download"
    if mimetypes.guess_type(name)[0] is None and extension and not name.lower().endswith(extension.lower()):
        name = f"{name}{extension}"
    return name


def download_content_type(filename: str) -> str:
    content_type, encoding = mimetypes.guess_type(filename)
    if encoding or not content_type:  # e.g. .tar.gz: keep the bytes as they are, do not let a client unzip them
        return "application/gzip" if encoding == "gzip" else "application/octet-stream"
    return content_type
