"""Reads of fulfilment: the shopper's library, certificates, pass QR codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from django.db.models import Prefetch, QuerySet

from apps.catalog.models import DownloadFile
from apps.fulfilment import signing
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.errors import NotFound


def library_for_user(*, user: Any) -> QuerySet[Entitlement]:
    """The shopper's entitlements, newest first, with everything the library shows in a fixed
    number of queries whatever the page size (joins plus one prefetch of download files)."""
    return (
        Entitlement.objects.filter(user_id=user.pk)
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


def certificate_get(*, code: str) -> CertificateView:
    """Public certificate check. Raises NotFound for an unknown code. Valid = active and the
    stored signature verifies against the platform key."""
    from apps.fulfilment.services import certificate_message

    entitlement = (Entitlement.objects.filter(certificate_code=code).select_related("product", "exhibitor").first()
                   if code and len(code) <= 40 else None)
    if entitlement is None or entitlement.serial is None:
        raise NotFound("No certificate has this code.")
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
    )


def pass_qr_svg(*, user: Any, entitlement_id: int) -> str:
    """SVG QR code of the owner's pass token. Raises NotFound for a foreign or non-pass id."""
    entitlement = Entitlement.objects.filter(pk=entitlement_id, user_id=user.pk, kind="pass").only("pass_token").first()
    if entitlement is None or not entitlement.pass_token:
        raise NotFound()
    return str(segno.make(entitlement.pass_token, error="m").svg_inline(scale=4))


def certificate_qr_svg(*, code: str, url: str) -> str:
    """SVG QR code pointing at a certificate's public page."""
    if not Entitlement.objects.filter(certificate_code=code).exists():
        raise NotFound()
    return str(segno.make(url, error="m").svg_inline(scale=4))
