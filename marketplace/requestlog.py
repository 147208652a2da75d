"""django-structlog's request middleware, leaving `request.user` re-resolvable.

Before the view runs, django-structlog reads `request.user` to log its id and, when the session
had not been touched yet, replaces `request.user` with a lazy object that returns the user it
just read. allauth's headless views swap in the session named by `X-Session-Token` and then
reset `request.user` (delete `_cached_user`, clear the lazy object) so it is read again from that
session; django-structlog's replacement ignored that and kept answering the anonymous user of the
empty cookie session. So `GET /_allauth/app/v1/auth/session`, the e-mail list and password change
answered 401 to the very token allauth had issued, while DRF (which authenticates by itself) took it.

The replacement here resolves through Django's own cached `get_user`, which allauth's reset does
clear, and still marks the session accessed when the view reads the user (Vary: Cookie).
"""

from typing import Any

import structlog
from django.contrib.auth.middleware import get_user
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django_structlog.middlewares import request as structlog_request

from marketplace.clientip import client_ip


class RequestMiddleware(structlog_request.RequestMiddleware):
    @classmethod
    def bind_ip(cls, request: HttpRequest) -> None:
        """The logged address is the project's client address (marketplace.clientip: the
        throttles', rate limits' and lockout's), not python-ipware's guess, which trusts any
        X-Forwarded-For a client sends and cost a tenth of an API request's middleware time."""
        structlog.contextvars.bind_contextvars(ip=client_ip(request))

    @staticmethod
    def bind_user_id(request: HttpRequest) -> None:
        before = request.__dict__.get("user")
        structlog_request.RequestMiddleware.bind_user_id(request)
        if request.__dict__.get("user") is before or not hasattr(request, "_cached_user"):
            return

        def resolve() -> Any:
            request.session.accessed = True
            return get_user(request)  # type: ignore[no-untyped-call]

        request.user = SimpleLazyObject(resolve)  # type: ignore[assignment]
