from django.apps import AppConfig


class ExhibitorsConfig(AppConfig):
    name = "apps.exhibitors"
    verbose_name = "Exhibitors"
