"""The absolute links a shopper receives (library, emails, QR codes), all on PUBLIC_BASE_URL.

Each opens where it is opened, with no header: the signed token in the link is the credential
(apps.fulfilment.signing). Nothing here writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.core.signing import BadSignature, Signer
from django.urls import reverse

from apps.fulfilment import signing
from marketplace.urls import absolute_url

if TYPE_CHECKING:
    from apps.fulfilment.models import Entitlement

BOOKING = "booking"
PASS_QR = "pass-qr"
GOODS_SALT = "fulfilment.link.goods"


def download_url(*, token: str) -> str:
    return absolute_url(reverse("v1:download", kwargs={"version": "v1", "token": token}))


def booking_url(entitlement: Entitlement) -> str:
    """The booking's access link: the meeting during the slot, a page saying when otherwise."""
    token = signing.link_sign(purpose=BOOKING, entitlement_id=entitlement.pk, nonce=entitlement.nonce)
    return absolute_url(reverse("fulfilment-pages:booking", kwargs={"token": token}))


def pass_qr_url(entitlement: Entitlement, fmt: str = "svg") -> str:
    """The pass's QR image (svg or png), openable without a header (e.g. from an email)."""
    token = signing.link_sign(purpose=PASS_QR, entitlement_id=entitlement.pk, nonce=entitlement.nonce)
    return absolute_url(reverse(f"v1:pass-qr-link-{fmt}", kwargs={"version": "v1", "link": token}))


def certificate_page_url(code: str) -> str:
    """The certificate's public page (what its QR encodes)."""
    return absolute_url(reverse("fulfilment-pages:certificate", kwargs={"code": code}))


def certificate_qr_url(code: str, fmt: str = "svg") -> str:
    return absolute_url(reverse(f"v1:certificate-qr{'-png' if fmt == 'png' else ''}", kwargs={"version": "v1", "code": code}))


def goods_token(*, order_id: UUID | str, user_id: int) -> str:
    return Signer(salt=GOODS_SALT).sign(f"{order_id}.{user_id}")


def goods_token_read(token: str) -> tuple[str, int] | None:
    """(order id, user id) of a genuine goods-page token, None otherwise."""
    if not token or len(token) > 200:
        return None
    try:
        value = Signer(salt=GOODS_SALT).unsign(token)
    except BadSignature:
        return None
    order_id, _, user_id = value.rpartition(".")
    if not order_id or not user_id.isdigit():
        return None
    return order_id, int(user_id)


def goods_url(*, order_id: UUID | str, user_id: int) -> str:
    """One order's goods as a page (the confirmation email's link): fresh download links, the
    booking, pass QR codes and certificates, without signing in."""
    return absolute_url(reverse("fulfilment-pages:goods", kwargs={"token": goods_token(order_id=order_id, user_id=user_id)}))
