"""`Retry-After` on allauth's 429 answers (API.md "Shoppers: accounts"; docs/API-additions.md).

allauth's headless API refuses with a bare 429 when one of its rates (ACCOUNT_RATE_LIMITS) is
spent, and has no hook to add a header. This middleware looks, for a 429 under /_allauth/, at the
rates of the action the endpoint consumes and at allauth's own counters for this caller (the same
cache keys allauth computes: per address, per user, per email): the wait is until the oldest hit
that fills a spent rate leaves its window. A counter it cannot find (e.g. per-user, where the user
is not known after the view) falls back to the longest window of the action, which is never too
short.
"""

import json
import math
import time
from collections.abc import Callable
from typing import Any

from allauth.core.internal import ratelimit as allauth_ratelimit
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

APP = "allauth.account"
# The last path segments of allauth's headless endpoints and the rate-limit actions they consume.
ACTIONS: dict[str, tuple[str, ...]] = {
    "auth/login": ("login", "login_failed"),
    "auth/signup": ("signup",),
    "auth/password/request": ("reset_password",),
    "auth/password/reset": ("reset_password_from_key",),
    "auth/reauthenticate": ("reauthenticate",),
    "auth/code/request": ("request_login_code",),
    "auth/email/verify/resend": ("confirm_email",),
    "account/password/change": ("change_password",),
    "account/email": ("manage_email", "confirm_email"),
    "account/phone": ("change_phone",),
}


def _actions(path: str) -> tuple[str, ...]:
    # /_allauth/<client>/v1/<rest>
    parts = path.strip("/").split("/", 3)
    return ACTIONS.get(parts[3], ()) if len(parts) == 4 else ()


def _email(request: HttpRequest) -> str | None:
    try:
        body = json.loads(request.body or b"{}")
    except (RawPostDataException, ValueError):  # read as a stream by the view, or not JSON
        return None
    email = body.get("email") if isinstance(body, dict) else None
    return email.lower() if isinstance(email, str) else None


def _keys(request: HttpRequest, action: str, rate: allauth_ratelimit.Rate) -> list[str]:
    if rate.per == "ip":
        return [allauth_ratelimit.get_cache_key(request, app=APP, action=action, rate=rate)]
    if rate.per == "key":
        email = _email(request)
        if not email:
            return []
        # login_failed is keyed "<site domain>:<email>" (the account adapter); the others by the email.
        from allauth.account.adapter import get_adapter

        key = get_adapter()._get_login_attempts_cache_key(request, email=email) if action == "login_failed" else email
        return [allauth_ratelimit.get_cache_key(request, app=APP, action=action, rate=rate, key=key)]
    return []


def retry_after_seconds(request: HttpRequest, *, now: float | None = None) -> int | None:
    """Seconds until the spent rate of this request's endpoint lets it through again, or None
    when the endpoint is not one of allauth's rate-limited ones."""
    actions = _actions(request.path)
    now = time.time() if now is None else now
    longest, waits = 0.0, []
    for action in actions:
        for rate in allauth_ratelimit.get_rates(app=APP, action=action):
            longest = max(longest, float(rate.duration))
            for key in _keys(request, action, rate):
                hits = sorted(ts for ts in cache.get(key, []) if ts > now - rate.duration)
                if len(hits) >= rate.amount:
                    waits.append(hits[len(hits) - rate.amount] + rate.duration - now)
    if not longest:
        return None
    return max(1, math.ceil(max(waits) if waits else longest))


class RetryAfterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        if response.status_code == 429 and request.path.startswith("/_allauth/") and "Retry-After" not in response:
            seconds = retry_after_seconds(request)
            if seconds is not None:
                response["Retry-After"] = str(seconds)
        return response
