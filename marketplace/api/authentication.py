"""DRF authentication for shoppers' allauth session tokens (API.md "Shoppers: accounts")."""

import re

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from rest_framework.request import Request

# A session token is a Django session key: 32 characters of [a-z0-9] (django.contrib.sessions).
_SESSION_KEY = re.compile(r"[a-z0-9]{32}")


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's `X-Session-Token` authentication, answering 401 (not 403) without credentials.

    DRF turns NotAuthenticated into 401 only when the first authentication class names a
    WWW-Authenticate challenge; allauth's class does not, so every anonymous call would get 403.

    A header that cannot be a session key is treated as absent (401 where a login is needed, as
    an unknown token is) without looking it up: garbage never reaches the session cache or table.
    """

    def authenticate_header(self, request: Request) -> str:
        return 'X-Session-Token realm="api"'

    def get_session_token(self, request: Request) -> str | None:  # type: ignore[override]
        token = super().get_session_token(request)
        return token if token and _SESSION_KEY.fullmatch(token) else None
