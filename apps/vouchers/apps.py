from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "apps.vouchers"
    verbose_name = _("Consumption vouchers")

    def ready(self) -> None:
        from apps.vouchers import subscribers  # noqa: F401 - registers the domain-event subscribers
