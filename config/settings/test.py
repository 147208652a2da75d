"""pytest-django settings: real Postgres and Redis (never SQLite or a fake Redis)."""

from urllib.parse import urlsplit

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
# One Redis database per xdist worker (1, 2, ...): the suite clears the cache before every test,
# and Django's cache.clear() is FLUSHDB, so a shared database would let one worker wipe the flags
# another worker's test just set.
_worker = E.PYTEST_XDIST_WORKER
_redis_db = E.TEST_REDIS_DB + (int(_worker[2:]) if _worker[2:].isdigit() else 0)
REDIS_URL = urlsplit(E.REDIS_URL)._replace(path=f"/{_redis_db}").geturl()
CACHES["default"]["LOCATION"] = REDIS_URL
# The real broker of the fault tests (tests/fulfilment/test_faults.py) and of the workers they
# start (tests/fulfilment/worker_settings.py, which inherit TEST_RUN_ID and PYTEST_XDIST_WORKER and
# derive the same two values): this run's Redis database, every broker key (queues, unacked,
# bindings, pub/sub channels) under kombu's `global_keyprefix` of this run and xdist worker, so
# two suites on one Redis server never consume each other's queues.
TEST_BROKER_URL = REDIS_URL
TEST_BROKER_KEYPREFIX = f"celery-test{_run}{'_' + _worker if _worker else ''}:"
# Throttles would make the schemathesis run and race tests flaky; they are tested explicitly.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"}}
CELERY_TASK_ALWAYS_EAGER = False
# Static files come from the app folders (finders), not a collected STATIC_ROOT: without one,
# WhiteNoise would warn on every start about the missing folder.
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True
# Webhook receivers in tests and demos listen on loopback (marketplace/netguard.py).
NOTIFICATIONS = {**NOTIFICATIONS, "WEBHOOK_ALLOW_PRIVATE_HOSTS": True}
# The browser tests show uploaded product images as `make run` does.
SERVE_PUBLIC_MEDIA = True
