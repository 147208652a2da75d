"""Security headers every response gets: a Content-Security-Policy chosen per page family, and
`Cache-Control: no-store` on responses that carry a secret.

The policies and path families live in settings (config/settings/integrations/security.py); the
list is documented in docs/API-additions.md ("Security headers"). Both middlewares sit right after
WhiteNoise, so static files are left alone, and they run whatever the view or the status (errors,
redirects, replayed idempotent responses included).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

_HTML = "text/html"


def _longest_prefix(path: str, families: Mapping[str, Any]) -> Any | None:
    matches = [prefix for prefix in families if path.startswith(prefix)]
    return families[max(matches, key=len)] if matches else None


def csp_directives_for(path: str, content_type: str) -> dict[str, Any]:
    """The policy of a response: its page family's for HTML, else one that loads nothing."""
    if content_type.split(";", 1)[0].strip().lower() == _HTML:
        return _longest_prefix(path, settings.CSP_FAMILIES) or settings.CSP_DEFAULT
    return _longest_prefix(path, settings.CSP_RESOURCE_FAMILIES) or settings.CSP_RESOURCE


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (nonces, the per-view decorators) with the policy chosen by
    `csp_directives_for` unless a view set a whole policy of its own (`csp_override`)."""

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase,
                         report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None:
            parts.config = csp_directives_for(request.path_info, response.get("Content-Type", ""))
        return parts


def needs_no_store(path: str) -> bool:
    return path.startswith(settings.NO_STORE_PATHS) and not path.startswith(settings.NO_STORE_EXEMPT)


class NoStoreMiddleware:
    """`Cache-Control: no-store, no-cache, must-revalidate, private, max-age=0` on every response
    under `NO_STORE_PATHS` (see settings). A view elsewhere that hands out a secret marks itself
    with Django's `never_cache`, which writes the same header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if needs_no_store(request.path_info):
            add_never_cache_headers(response)
        return response
