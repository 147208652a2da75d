from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "apps.fulfilment"
    label = "fulfilment"
    verbose_name = "Fulfilment"
