"""pytest-django settings: real Postgres and Redis (never SQLite or a fake Redis)."""

from config.settings import env as E
from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, DATABASES, REST_FRAMEWORK, STORAGES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},  # §2.7
}
_run = f"_{E.TEST_RUN_ID}" if E.TEST_RUN_ID else ""
DATABASES["default"]["TEST"] = {"NAME": f"test_marketplace{_run}"}
CACHES["default"]["KEY_PREFIX"] = f"test{_run}"
# Throttles would make the schemathesis run and race tests flaky; they are tested explicitly.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"}}
CELERY_TASK_ALWAYS_EAGER = False
# Static files come from the app folders (finders), not a collected STATIC_ROOT: without one,
# WhiteNoise would warn on every start about the missing folder.
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True
# Webhook receivers in tests and demos listen on loopback (marketplace/netguard.py).
NOTIFICATIONS = {**NOTIFICATIONS, "WEBHOOK_ALLOW_PRIVATE_HOSTS": True}
