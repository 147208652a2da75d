"""Absolute links handed to people (API responses, emails, QR codes).

Every such link starts with settings.PUBLIC_BASE_URL, never with the request's Host header,
which the caller controls (a forged Host would otherwise end up in a shopper's email or QR code).
"""

from django.conf import settings


def absolute_url(path: str) -> str:
    """`PUBLIC_BASE_URL` + `path` (an absolute path such as reverse() returns; query allowed)."""
    if not path.startswith("/"):
        raise ValueError(f"absolute_url needs a path starting with '/', got {path!r}")
    return f"{str(settings.PUBLIC_BASE_URL).rstrip('/')}{path}"
