"""The one place environment variables are read (django-environ).

Every setting that comes from the environment is declared here with its type and default, so a
reader sees the whole configuration surface in one file. A `.env` file at the project root is read
if present (never committed).
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY: str = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])

# Postgres and Redis. Unset means "start the embedded ones" (marketplace/devservices/ sets these
# for the processes it launches), so a default here would hide a misconfiguration.
DATABASE_URL: str = env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/marketplace")
DB_CONN_MAX_AGE: int = env.int("DB_CONN_MAX_AGE", default=0)
DB_POOL: bool = env.bool("DB_POOL", default=False)
DB_LOCK_TIMEOUT_MS: int = env.int("DB_LOCK_TIMEOUT_MS", default=3000)
DB_STATEMENT_TIMEOUT_MS: int = env.int("DB_STATEMENT_TIMEOUT_MS", default=30000)
REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="")
# Beyond one machine (marketplace/db/, marketplace/sentinel.py; README "Scaling out").
# Read replicas (comma-separated Postgres URLs): aliases replica_0, replica_1, ... that only the
# views marked for it read from, never a shopper inside their read-your-writes window (seconds).
DATABASE_REPLICA_URLS: list[str] = env.list("DATABASE_REPLICA_URLS", default=[])
DATABASE_READ_YOUR_WRITES_SECONDS: int = env.int("DATABASE_READ_YOUR_WRITES_SECONDS", default=10)
# "session": Django talks to Postgres (or a session-mode pooler). "transaction": PgBouncer in
# transaction pooling mode; no session state (timeouts per transaction, no server-side cursors).
DATABASE_POOL_MODE: str = env.str("DATABASE_POOL_MODE", default="session")
# Redis Sentinel (host:port,...): the broker and the cache find the master through it.
REDIS_SENTINELS: list[str] = env.list("REDIS_SENTINELS", default=[])
REDIS_SENTINEL_MASTER: str = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
REDIS_SENTINEL_PASSWORD: str = env.str("REDIS_SENTINEL_PASSWORD", default="")
CACHE_KEY_PREFIX: str = env.str("CACHE_KEY_PREFIX", default="mkt")

DATA_DIR: Path = Path(env.str("DATA_DIR", default=str(BASE_DIR / ".data")))
MEDIA_ROOT: Path = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
PRIVATE_MEDIA_ROOT: Path = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(DATA_DIR / "private")))
STATIC_ROOT: Path = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
S3_BUCKET: str = env.str("S3_BUCKET", default="")
S3_ENDPOINT_URL: str = env.str("S3_ENDPOINT_URL", default="")

EMAIL_URL: str = env.str("EMAIL_URL", default="consolemail://")
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="Expo Marketplace <noreply@expo.test>")
# Origin of every absolute link handed to shoppers (API responses, emails, QR codes).
# `make run` sets it to the address it serves.
PUBLIC_BASE_URL: str = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# The shoppers' front end (allauth's e-mail links) and Stripe Connect's return page; unset means
# this server, i.e. PUBLIC_BASE_URL.
FRONTEND_URL: str = env.str("FRONTEND_URL", default=PUBLIC_BASE_URL)

# Proxies in front of the web server that the deployment controls (each appends the address it
# saw to X-Forwarded-For). 0: X-Forwarded-For is ignored and the client is REMOTE_ADDR. The one
# client address of DRF's throttles, allauth's limits, the admin login lockout and /metrics.
TRUSTED_PROXY_COUNT: int = env.int("TRUSTED_PROXY_COUNT", default=0)
# Request limits (a deployment or a load test sets its own; DRF reads its rates at import).
THROTTLE_ANON: str = env.str("THROTTLE_ANON", default="600/min")
THROTTLE_USER: str = env.str("THROTTLE_USER", default="1200/min")
# allauth's login limits (its rate syntax): every login attempt, and failed ones (per address and
# per email; a refused attempt answers 400 too_many_login_attempts).
ACCOUNT_RATE_LIMIT_LOGIN: str = env.str("ACCOUNT_RATE_LIMIT_LOGIN", default="30/m/ip")
ACCOUNT_RATE_LIMIT_LOGIN_FAILED: str = env.str("ACCOUNT_RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key")
# The admin (and /ops/, /booth/) login lockout (django-axes): failures of one email from one
# address before it is locked, and for how long.
AXES_FAILURE_LIMIT: int = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES: int = env.int("AXES_COOLOFF_MINUTES", default=15)
# /metrics: a bearer token that opens it, and the networks that may read it without one.
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS: list[str] = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOG_JSON: bool = env.bool("LOG_JSON", default=True)
SENTRY_DSN: str = env.str("SENTRY_DSN", default="")
FLOWER_URL: str = env.str("FLOWER_URL", default="")

PAYMENT_PROVIDER: str = env.str("PAYMENT_PROVIDER", default="")
STRIPE_SECRET_KEY: str = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY: str = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET: str = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE: str = env.str("STRIPE_API_BASE", default="")
# Production refuses the simulated provider (shoppers could pay by calling /payment/simulate)
# unless this is set, for staging and the benchmarks.
PAYMENTS_ALLOW_SIMULATED: bool = env.bool("PAYMENTS_ALLOW_SIMULATED", default=False)

ORDER_HOLD_MINUTES: int = env.int("ORDER_HOLD_MINUTES", default=15)
DEFAULT_CURRENCY: str = env.str("DEFAULT_CURRENCY", default="CNY")

# Test runs: a distinct id lets two suites share one Postgres server without dropping each
# other's test databases (pytest-xdist then adds its own _gwN suffix).
TEST_RUN_ID: str = env.str("TEST_RUN_ID", default="")
# Set by pytest-xdist in each worker (gw0, gw1, ...): each gets its own Redis database.
PYTEST_XDIST_WORKER: str = env.str("PYTEST_XDIST_WORKER", default="")
# First Redis database of a test run (each xdist worker adds its index). Two suites sharing one
# Redis server need distinct values, since every test starts with FLUSHDB of its database.
TEST_REDIS_DB: int = env.int("TEST_REDIS_DB", default=1)

# Fulfilment: Ed25519 private key (32 raw bytes, base64) signing certificates and pass tokens.
# Empty means the fixed development key, which production refuses (config/settings/production.py).
FULFILMENT_SIGNING_KEY: str = env.str("FULFILMENT_SIGNING_KEY", default="")
