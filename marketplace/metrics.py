"""GET /metrics (django-prometheus), for the scraper only.

The page is large and names the order queues' sizes, so it is not public: it opens to a bearer
token (`METRICS_TOKEN`, `Authorization: Bearer <token>`) or to a client address inside
`METRICS_ALLOWED_NETWORKS` (default loopback; the address is marketplace.clientip's, so
`TRUSTED_PROXY_COUNT` applies; with it 0, a forwarded request never passes the network rule, since
an undeclared proxy on the same host would make every visitor look local). Anything else is answered exactly like an unknown URL (404), so
the endpoint's existence is not revealed. A wrong token is refused even from an allowed network.
"""

import hmac
import ipaddress
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView

from marketplace.clientip import client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in spec if cidr.strip())


def metrics_allowed(request: HttpRequest) -> bool:
    """True when the request carries the metrics token, or (no token sent) comes from an allowed network."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.partition(" ")
        expected = settings.METRICS_TOKEN
        return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
    if settings.TRUSTED_PROXY_COUNT == 0 and "HTTP_X_FORWARDED_FOR" in request.META:
        # Behind a proxy nobody declared, every visitor would arrive from the proxy's (loopback)
        # address: the network rule cannot tell them apart, so only the token opens the page.
        return False
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        raise Http404
    return ExportToDjangoView(request)
