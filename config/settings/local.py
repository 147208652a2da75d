"""Development: `make run`. DEBUG on, console email, readable logs unless LOG_JSON is set."""

from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES

DEBUG = True
# The manifest storage needs collectstatic; runserver serves app static files directly.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
