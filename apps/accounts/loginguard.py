"""The admin login lockout (django-axes): every password login through /admin/login/, which is
also where /ops/ and /booth/ send staff to sign in.

- Failures are counted per (email, client address) pair: AXES_LOCKOUT_PARAMETERS
  [["username", "ip_address"]]; the email is compared lower-case (`username`), the address is
  marketplace.clientip's (`client_ip`, TRUSTED_PROXY_COUNT).
- Only the admin site is guarded (`AdminLoginHandler`): allauth's API logins go through the same
  `authenticate()` and its signals, but are limited by allauth itself (ACCOUNT_RATE_LIMITS);
  axes records nothing for them, so it can neither lock a shopper out nor slow the API down.
- A locked-out login gets `lockout_response`: a page in the admin's look (429, Retry-After).
Operators unlock an account by deleting its access attempt in the admin (apps/accounts/admin.py).
"""

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from marketplace.clientip import client_ip as _client_ip


def client_ip(request: HttpRequest) -> str:
    return _client_ip(request)


def username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The email the login form sent, lower-case (emails are stored so; any case signs in)."""
    value = (credentials or {}).get("username")
    if value is None:
        value = request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) else None


class AdminLoginHandler(AxesDatabaseHandler):
    """axes' database handler, for admin-site logins only (AXES_ONLY_ADMIN_SITE covers the check
    before authentication; these cover the records after it)."""

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_in(sender, request, user, **kwargs)

    def user_logged_out(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_out(sender, request, user, **kwargs)


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    context = {
        **admin.site.each_context(request),
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": max(1, -(-seconds // 60)),
    }
    response = TemplateResponse(request, "accounts/lockout.html", context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response.render()
