"""DRF authentication for shoppers' allauth session tokens (API.md "Shoppers: accounts")."""

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from rest_framework.request import Request


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's `X-Session-Token` authentication, answering 401 (not 403) without credentials.

    DRF turns NotAuthenticated into 401 only when the first authentication class names a
    WWW-Authenticate challenge; allauth's class does not, so every anonymous call would get 403.
    """

    def authenticate_header(self, request: Request) -> str:
        return 'X-Session-Token realm="api"'
