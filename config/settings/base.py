"""Settings shared by every environment. Values from the environment come from `env.py`."""

from datetime import timedelta

from config.settings import env as E
from config.settings.integrations.api import *  # noqa: F403
from config.settings.integrations.auth import *  # noqa: F403
from config.settings.integrations.celery import *  # noqa: F403
from config.settings.integrations.celery import CELERY_BROKER_TRANSPORT_OPTIONS
from config.settings.integrations.fulfilment import *  # noqa: F403
from config.settings.integrations.logging import *  # noqa: F403
from config.settings.integrations.media import *  # noqa: F403
from config.settings.integrations.notifications import *  # noqa: F403
from config.settings.integrations.operations import *  # noqa: F403
from config.settings.integrations.payments import *  # noqa: F403
from config.settings.integrations.security import *  # noqa: F403
from marketplace.db.config import database_settings, replica_aliases
from marketplace.i18n import localized_verbose_name
from marketplace.sentinel import sentinel_settings

BASE_DIR = E.BASE_DIR
DEBUG = E.DEBUG
SECRET_KEY = E.SECRET_KEY or "django-insecure-local-development-only-key-never-in-production"
ALLOWED_HOSTS = E.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = E.CSRF_TRUSTED_ORIGINS
CORS_ALLOWED_ORIGINS = E.CORS_ALLOWED_ORIGINS
CORS_URLS_REGEX = r"^/(api|_allauth)/.*$"

INSTALLED_APPS = [
    # modeltranslation and unfold must precede django.contrib.admin (DEPENDENCIES.md §2.9).
    "modeltranslation",
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "import_export",
    "rules.apps.AutodiscoverRulesConfig",
    "django_celery_beat",
    "django_celery_results",
    "django_structlog",
    "easy_thumbnails",
    "allauth",
    "allauth.account",
    "allauth.headless",
    "axes",
    "marketplace",
    "apps.accounts",
    "apps.exhibitors",
    "apps.catalog",
    "apps.vouchers",
    "apps.orders",
    "apps.payments",
    "apps.fulfilment",
    "apps.notifications",
    "apps.operations",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Security headers on every response but static files: CSP per page family, no-store on
    # responses carrying a secret (marketplace/security.py, config/settings/integrations/security.py).
    "marketplace.security.ContentSecurityPolicyMiddleware",
    "marketplace.security.NoStoreMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # /api/ and /_allauth/: oversized, too deep or malformed JSON bodies answer 4xx JSON before any
    # view; errors no view wrote in JSON are reshaped (marketplace/api/guard.py).
    "marketplace.api.guard.ApiGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # allauth's 429s get the Retry-After header its headless API leaves out.
    "apps.accounts.ratelimit.RetryAfterMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-structlog's, minus the stale user it left on requests (allauth's X-Session-Token).
    "marketplace.requestlog.RequestMiddleware",
    # django-axes: turns a locked-out admin login into the lockout page (apps/accounts/loginguard.py).
    "axes.middleware.AxesMiddleware",
    # With read replicas: a signed-in user's write pins them to the primary for a few seconds
    # (marketplace/db/routing.py); removes itself when there is none. Innermost, so it sees the
    # user the view saw (django-structlog's middleware rebinds `request.user` on the way out).
    "marketplace.db.routing.ReadYourWritesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "marketplace" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_db = E.env.db_url_config(E.DATABASE_URL)
_db["ENGINE"] = "django_prometheus.db.backends.postgresql"
_db["CONN_MAX_AGE"] = E.DB_CONN_MAX_AGE
_db["CONN_HEALTH_CHECKS"] = E.DB_CONN_MAX_AGE > 0
_db["OPTIONS"] = {}
if E.DB_POOL:
    _db["OPTIONS"]["pool"] = {"min_size": 2, "max_size": 10}
    _db["CONN_MAX_AGE"] = 0
# lock_timeout makes waiters on a row lock fail fast instead of piling up (DESIGN.md habit 7);
# statement_timeout caps a runaway query. Both go in the DSN, or, behind PgBouncer's transaction
# pooling (DATABASE_POOL_MODE=transaction), into every transaction. DATABASE_REPLICA_URLS adds
# replica_0, ... with the same options; the router sends them only reads that opted in
# (marketplace/db/routing.py), and is installed only when there is a replica.
DATABASES = database_settings(
    primary=_db, replica_urls=E.DATABASE_REPLICA_URLS, parse_url=E.env.db_url_config, pool_mode=E.DATABASE_POOL_MODE,
    lock_timeout_ms=E.DB_LOCK_TIMEOUT_MS, statement_timeout_ms=E.DB_STATEMENT_TIMEOUT_MS,
)
DATABASE_REPLICAS = replica_aliases(DATABASES)
DATABASE_ROUTERS = ["marketplace.db.routing.ReplicaRouter"] if DATABASE_REPLICAS else []
DATABASE_READ_YOUR_WRITES_SECONDS = E.DATABASE_READ_YOUR_WRITES_SECONDS
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        # Django's, reusing one redis-py client per pool instead of building one per call.
        "BACKEND": "marketplace.cache.RedisCache",
        "LOCATION": E.REDIS_URL,
        "KEY_PREFIX": E.CACHE_KEY_PREFIX,
        "TIMEOUT": 300,
    }
}
REDIS_URL = E.REDIS_URL
# Redis Sentinel (REDIS_SENTINELS=host:port,...): the broker and the cache follow the master the
# sentinels name; REDIS_URL then gives only its password and database (marketplace/sentinel.py).
if E.REDIS_SENTINELS:
    _sentinel = sentinel_settings(sentinels=E.REDIS_SENTINELS, master=E.REDIS_SENTINEL_MASTER, redis_url=E.REDIS_URL,
                                  sentinel_password=E.REDIS_SENTINEL_PASSWORD)
    CACHES["default"] = {**CACHES["default"], "LOCATION": _sentinel.cache_location, "OPTIONS": _sentinel.cache_options}
    CELERY_BROKER_URL = E.CELERY_BROKER_URL or _sentinel.broker_url
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, **_sentinel.broker_transport_options}
# Celery's Django fixup closes every database connection before and after each task unless this is
# set (then only every this many tasks); config/celery.py closes them as Django closes a request's
# instead (close_old_connections: past DB_CONN_MAX_AGE, or broken), so a worker keeps its
# connection across tasks as gunicorn does across requests (issue 15: a connect per task).
CELERY_DB_REUSE_MAX = 1000

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out admin login before any backend checks a password.
    # It authenticates nobody and grants no permission; allauth's logins pass straight through it
    # (AXES_ONLY_ADMIN_SITE) and DRF's token authentication never calls authenticate().
    "axes.backends.AxesStandaloneBackend",
    # rules next (DEPENDENCIES.md §2.9): object permissions for exhibitor staff, ahead of ModelBackend.
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# Where a login without ?next= lands. Django's default is /accounts/profile/, which nothing serves
# (allauth runs headless-only), and unfold's login form, unlike Django's, posts no hidden `next`:
# a plain visit to /admin/login/ used to end on a 404.
LOGIN_REDIRECT_URL = "admin:index"

# The admin's product import keeps the uploaded file between "upload" and "confirm". The default
# (a file in this host's /tmp) breaks with more than one web host, as the confirm may land on
# another; the shared cache (Redis) serves every host.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.CacheStorage"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
# The project's own words in Chinese: locale/zh_Hans/LC_MESSAGES/django.po, compiled .mo committed
# beside it (`make messages` refreshes both; tests/marketplace/test_i18n_catalog.py checks them).
LOCALE_PATHS = [BASE_DIR / "locale"]

# Translated content (names, titles, descriptions): columns `<field>_en` and `<field>_zh_hans`
# (apps/*/translation.py). Reading `product.title` gives the active language's text, falling back
# to English when the Chinese one is empty.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "zh-hans")
MODELTRANSLATION_FALLBACK_LANGUAGES = {"default": ("en",)}
# Admin labels "Title (English)" / "标题（中文）" instead of "title [zh-hans]".
MODELTRANSLATION_BUILD_LOCALIZED_VERBOSE_NAME = localized_verbose_name
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = E.STATIC_ROOT
MEDIA_URL = "/media/"
MEDIA_ROOT = E.MEDIA_ROOT
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Download files are never served by URL: fulfilment hands out signed, expiring links.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(E.PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if E.S3_BUCKET:
    STORAGES["private"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": E.S3_BUCKET,
            "endpoint_url": E.S3_ENDPOINT_URL or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "signature_version": "s3v4",  # DEPENDENCIES.md §2.6
        },
    }
    # Public media (product images and thumbnails) under public/ of the same bucket, by plain
    # URL: the bucket policy makes public/* readable (no ACLs, no signed query strings).
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": E.S3_BUCKET,
            "endpoint_url": E.S3_ENDPOINT_URL or None,
            "location": "public",
            "querystring_auth": False,
            "file_overwrite": False,
            "signature_version": "s3v4",
        },
    }

_email = E.env.email_url_config(E.EMAIL_URL)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = E.DEFAULT_FROM_EMAIL
SERVER_EMAIL = E.DEFAULT_FROM_EMAIL

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies in front that the deployment controls: the client address rule of marketplace/clientip.py.
TRUSTED_PROXY_COUNT = E.TRUSTED_PROXY_COUNT
# /metrics opens to this bearer token or these networks only (marketplace/metrics.py).
METRICS_TOKEN = E.METRICS_TOKEN
METRICS_ALLOWED_NETWORKS = E.METRICS_ALLOWED_NETWORKS
X_FRAME_OPTIONS = "DENY"

DATA_DIR = E.DATA_DIR
PUBLIC_BASE_URL = E.PUBLIC_BASE_URL.rstrip("/")
FLOWER_URL = E.FLOWER_URL

# Marketplace rules.
MARKETPLACE = {
    "DEFAULT_CURRENCY": E.DEFAULT_CURRENCY,
    "ORDER_HOLD": timedelta(minutes=E.ORDER_HOLD_MINUTES),
    # Operators: superusers and members of this group see and edit everything.
    "OPERATORS_GROUP": "operators",
    # Exhibitor staff get the model permissions of this group; rows are scoped per exhibitor.
    "EXHIBITOR_STAFF_GROUP": "exhibitor staff",
}
from config.settings.integrations.admin import *  # noqa: E402, F403
