"""Development: `make run`. DEBUG on, console email, readable logs unless LOG_JSON is set."""

from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES

DEBUG = True
# The manifest storage needs collectstatic; runserver serves app static files directly.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Static files come from the app folders (finders), not a collected STATIC_ROOT: without one,
# WhiteNoise would warn on every start about the missing folder.
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True
# Webhook receivers in tests and demos listen on loopback (marketplace/netguard.py).
NOTIFICATIONS = {**NOTIFICATIONS, "WEBHOOK_ALLOW_PRIVATE_HOSTS": True}
# `make run`: Django serves public media (product images) at /media/, DEBUG on or off.
SERVE_PUBLIC_MEDIA = True
