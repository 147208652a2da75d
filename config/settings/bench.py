"""Benchmarks only (bench/, `make bench`): the production settings, served over plain HTTP on loopback.

Everything that shapes performance stays as in production (DEBUG off, JSON logs, throttling,
middleware, Celery routing). Only what needs TLS is switched off, since the harness talks to
gunicorn directly on 127.0.0.1, and the URL map gains the bench-only ceiling views (bench/urls.py).
Never used by the test suite or a deployment.
"""

from config.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_HSTS_PRELOAD = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

ROOT_URLCONF = "bench.urls"
