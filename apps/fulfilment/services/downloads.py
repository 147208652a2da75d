"""Downloads: the signed download links and the checks of a shopper's download (counting it)."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db.models import F
from django.utils import timezone

from apps.catalog.models import DownloadFile, ProductKind
from apps.fulfilment import signing
from apps.fulfilment.errors import (
    DownloadsExhausted,
    EntitlementRevoked,
    LinkExpired,
)
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.errors import NotFound

DOWNLOAD_SALT = "fulfilment.download"


def download_token_make(*, entitlement: Entitlement, file_id: int) -> str:
    """A signed, timestamped token for one file of a download entitlement (TimestampSigner).

    The token is the link's only credential: `<id>.<file id>.<nonce tag>:<time>:<HMAC>`, bound to
    the entitlement, the file and the entitlement's nonce (revocation replaces it), unforgeable
    without SECRET_KEY, expiring after DOWNLOAD_LINK_TTL.
    """
    return TimestampSigner(salt=DOWNLOAD_SALT).sign(f"{entitlement.pk}.{file_id}.{signing.nonce_tag(entitlement.nonce)}")


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
