from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_roles(sender: AppConfig, using: str = "default", verbosity: int = 1, **kwargs: Any) -> None:
    """After migrate: make sure every app's permissions exist, then set the roles' groups.

    auth creates permissions app by app as post_migrate reaches each one, and the catalog comes
    after the exhibitors in INSTALLED_APPS, so its Permission rows may not exist yet when this
    runs; create_permissions is idempotent, so call it for every app first.
    """
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    from apps.exhibitors.services import roles_ensure

    for app_config in global_apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0, using=using)
        create_permissions(app_config, verbosity=0, using=using)
    roles_ensure()


class ExhibitorsConfig(AppConfig):
    name = "apps.exhibitors"
    verbose_name = _("Exhibitors")

    def ready(self) -> None:
        # sender=self: runs once per migrate, after auth's receiver (connected earlier) has
        # handled this app.
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="exhibitors_ensure_roles")
