"""allauth's account adapter: the client address of its rate limits is the project's one rule."""

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from marketplace.clientip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        # TRUSTED_PROXY_COUNT as DRF's throttles and the admin lockout read it (marketplace/clientip.py):
        # with no trusted proxy a forged X-Forwarded-For cannot move a shopper to a fresh counter.
        return client_ip(request) or super().get_client_ip(request)
