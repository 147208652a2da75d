from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace kernel"

    def ready(self) -> None:
        # Registers the schema extensions (drf-spectacular finds them by subclass registration).
        from marketplace.api import openapi  # noqa: F401
