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
