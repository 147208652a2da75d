"""Django settings of the multi-host test's web and worker hosts: production, with time compressed.

Everything is config.settings.production (DEBUG off, throttles, middleware, Celery routing and
acks_late, the DB router once DATABASE_REPLICA_URLS exists): HAProxy in front sets
`X-Forwarded-Proto: https`, as a TLS-terminating proxy would, so the HTTPS redirect and secure
cookies stay on. The environment comes from tests/multihost/stack.py (secret key, signing key,
DATABASE_URL, DATABASE_REPLICA_URLS, REDIS_URL, simulated payments allowed).

Only the clocks of recovery change, so that what a killed host leaves behind is picked up within
the test's minutes instead of production's quarter hour. Each is still the production mechanism:

- Redis redelivers an unacknowledged task (its worker died) after the visibility timeout: 900 s in
  production, 15 s here, with the surviving worker scanning for them every 2 s (kombu's default
  scan runs every 10 x 10 s). Tasks here take milliseconds, so no live task is redelivered; if
  one were, it is idempotent, and the test checks nothing was done twice.
- The beat sweeps that repair lost messages (a process killed between commit and publish): paid
  orders left unfulfilled (threshold 2 min -> 8 s, every 60 s -> 4 s) and stored payment events
  never processed (grace 5 min -> 8 s, every 10 min -> 4 s).
"""

from datetime import timedelta

from config.settings.production import *  # noqa: F403
from config.settings.production import CELERY_BEAT_SCHEDULE, CELERY_BROKER_TRANSPORT_OPTIONS, FULFILMENT, PAYMENTS

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "visibility_timeout": 15,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
FULFILMENT = {**FULFILMENT, "SWEEP_THRESHOLD": timedelta(seconds=8)}
PAYMENTS = {**PAYMENTS, "RECONCILE_GRACE": timedelta(seconds=8)}
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "fulfilment-sweep-unfulfilled": {**CELERY_BEAT_SCHEDULE["fulfilment-sweep-unfulfilled"], "schedule": 4.0},
    "payments-reconcile": {**CELERY_BEAT_SCHEDULE["payments-reconcile"], "schedule": 4.0},
}
