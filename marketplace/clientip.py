"""The client's address, one rule for every consumer: DRF's throttles (NUM_PROXIES), allauth's
rate limits (apps.accounts.adapter), the admin login lockout (AXES_CLIENT_IP_CALLABLE) and the
/metrics network check.

`TRUSTED_PROXY_COUNT` proxies the deployment controls sit in front of the web server, each
appending the address it saw to X-Forwarded-For. The client is then the entry that many places
from the right (what the outermost trusted proxy saw); with 0 (the default) X-Forwarded-For is
ignored and the client is REMOTE_ADDR, so a forged header changes nothing. This is DRF's own
`get_ident` rule for NUM_PROXIES, so its throttles and this function always agree.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client address of `request` (REMOTE_ADDR when no trusted proxy or no header)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if count <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",")]
    candidate = addresses[-min(count, len(addresses))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Not an address (a misconfigured proxy chain): fall back to the peer we can see.
        return remote
