from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = _("Marketplace kernel")

    def ready(self) -> None:
        # Registers the schema extensions (drf-spectacular finds them by subclass registration).
        from marketplace.api import openapi  # noqa: F401
