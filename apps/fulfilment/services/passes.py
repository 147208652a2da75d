"""Passes and certificates: the signed artefacts (certificate message, pass tokens) and redeeming a
pass at the booth."""

from __future__ import annotations

import binascii
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.catalog.models import ProductKind
from apps.fulfilment import signing
from apps.fulfilment.errors import (
    AlreadyRedeemed,
    PassNotValidNow,
    PassRevoked,
)
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.errors import NotFound
from marketplace.tenancy import can_access_exhibitor


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
