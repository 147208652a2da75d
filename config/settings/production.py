"""Production: behind a TLS proxy, secrets from the environment, JSON logs, Sentry."""

import sentry_sdk
from django.core.exceptions import ImproperlyConfigured
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from config.settings import env as E
from config.settings.base import *  # noqa: F403

DEBUG = False
if len(E.SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (50+ random characters) in production.")
SECRET_KEY = E.SECRET_KEY
if PAYMENT_PROVIDER == "simulated" and not E.PAYMENTS_ALLOW_SIMULATED:
    raise ImproperlyConfigured(
        "No STRIPE_SECRET_KEY: production would take simulated payments, which any shopper can trigger. "
        "Set the Stripe keys, or PAYMENTS_ALLOW_SIMULATED=true for a staging or benchmark deployment."
    )
if PAYMENT_PROVIDER == "stripe" and not E.STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET must be set: without it no Stripe event can be verified.")
if not E.FULFILMENT_SIGNING_KEY or E.FULFILMENT_SIGNING_KEY == DEV_FULFILMENT_SIGNING_KEY:
    raise ImproperlyConfigured("FULFILMENT_SIGNING_KEY must be set to a private Ed25519 key (base64) in production.")

SECURE_SSL_REDIRECT = True
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

if E.SENTRY_DSN:
    sentry_sdk.init(
        dsn=E.SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=0.05,
        send_default_pii=False,
    )
