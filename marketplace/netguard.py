"""Outbound HTTP to URLs that users chose (exhibitor webhooks): refuse internal targets.

A URL an exhibitor registers is fetched by our workers, inside our network. Without this check it
could point at Redis, Postgres, the cloud metadata service or an internal admin (SSRF). A URL is
accepted only if it is http(s) and every address its host resolves to is globally routable.
Checked when the URL is saved and again before each request, since DNS answers can change.
`allow_private` (tests and local development, which deliver to loopback) skips the address check.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


def outbound_url_error(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not be requested, or None when it may. Resolves the host (blocking)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "Use an http:// or https:// URL."
    if not parts.hostname:
        return "The URL needs a host name."
    if allow_private:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return "The host name does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return "The host resolves to a private, loopback or reserved address; use a public endpoint."
    return None
