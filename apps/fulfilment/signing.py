"""The platform's Ed25519 key: signs certificates and pass tokens, verifiable with the public key.

Anyone holding the public key (served with every certificate) can check a certificate or a pass
token offline; only the platform, holding FULFILMENT["SIGNING_KEY"], can make one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=4)
def _private_key(encoded: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded))


def private_key() -> Ed25519PrivateKey:
    return _private_key(settings.FULFILMENT["SIGNING_KEY"])


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_bytes() -> bytes:
    return public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64() -> str:
    return base64.b64encode(public_key_bytes()).decode()


def key_id() -> str:
    """Short, stable id of the public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public_key_bytes()).hexdigest()[:16]


def sign(message: bytes) -> bytes:
    return private_key().sign(message)


def verify(message: bytes, signature: bytes, *, key: Ed25519PublicKey | None = None) -> bool:
    try:
        (key or public_key()).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def decode_signature(text: str) -> bytes | None:
    try:
        return b64url_decode(text)
    except (binascii.Error, ValueError):
        return None


# --- Links handed to shoppers ----------------------------------------------------------------------
#
# A link's token is its only credential (it opens in a phone's browser or a mail client, with no
# session). Django's HMAC signer (SECRET_KEY, a salt per purpose) makes it unforgeable, so no
# token can be derived from ids. It binds the entitlement id, what it opens (a file id, a format)
# and a tag of the entitlement's nonce: revocation replaces the nonce, which kills every link.


def nonce_tag(nonce: str) -> str:
    """A short digest of an entitlement's nonce: changes with it, reveals nothing about it."""
    return hashlib.sha256(f"expo-link|{nonce}".encode()).hexdigest()[:12]


def link_sign(*, purpose: str, entitlement_id: int, nonce: str, detail: str = "") -> str:
    """`<id>.<detail>.<tag>:<signature>`, signed for `purpose` (no expiry; see `link_read`)."""
    from django.core.signing import Signer

    return Signer(salt=f"fulfilment.link.{purpose}").sign(f"{entitlement_id}.{detail}.{nonce_tag(nonce)}")


def link_read(*, purpose: str, token: str) -> tuple[int, str, str] | None:
    """(entitlement id, detail, nonce tag) of a genuine token for `purpose`; None if forged or malformed.

    The caller compares the tag with the entitlement's current nonce (`nonce_tag`) to tell a
    revoked link from a live one.
    """
    from django.core.signing import BadSignature, Signer

    if not token or len(token) > 200:
        return None
    try:
        value = Signer(salt=f"fulfilment.link.{purpose}").unsign(token)
    except BadSignature:
        return None
    entitlement_id, _, rest = value.partition(".")
    detail, _, tag = rest.rpartition(".")
    if not entitlement_id.isdigit() or not tag:
        return None
    return int(entitlement_id), detail, tag


def public_key_pem() -> str:
    """The public key as PEM (SubjectPublicKeyInfo), for `openssl pkeyutl -verify`."""
    return public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
