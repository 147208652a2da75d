from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = _("Marketplace kernel")

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        # Registers the schema extensions (drf-spectacular finds them by subclass registration).
        from marketplace.api import openapi  # noqa: F401
        from marketplace.api.authentication import forget_cached_user

        # The API's user cache forgets a user on every save or delete, in every process.
        post_save.connect(forget_cached_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="api_user_cache_save")
        post_delete.connect(forget_cached_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="api_user_cache_delete")

        # Subscribes read-your-writes to "order.fulfilled" (the shopper's new goods, on the primary).
        from marketplace.db import routing  # noqa: F401
