"""drf-spectacular extensions for the project's own API classes (imported in MarketplaceConfig.ready).

Without them the schema generator warns and `spectacular --fail-on-warn` fails.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SessionTokenScheme(OpenApiAuthenticationExtension):
    """allauth headless session tokens, sent as the `X-Session-Token` header (API.md "Shoppers")."""

    target_class = "marketplace.api.authentication.SessionTokenAuthentication"
    name = "sessionToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Session-Token",
            "description": "The `meta.session_token` of an allauth headless login or signup (`/_allauth/app/v1/auth/...`).",
        }
