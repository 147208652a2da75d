"""Celery: Redis broker, django-celery-results backend, django-celery-beat schedules, named queues."""

from kombu import Queue

from config.settings import env as E

CELERY_BROKER_URL = E.CELERY_BROKER_URL or E.REDIS_URL
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
# Tasks whose return value nobody reads (notification senders) set ignore_result; their failures
# are still stored, so the operations console's "tasks failed in the last hour" counts them.
CELERY_TASK_STORE_ERRORS_EVEN_IF_IGNORED = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", "fulfilment", "notifications", "webhooks")]
# Route by task name prefix; names are explicit on every task (DESIGN.md habit 5).
CELERY_TASK_ROUTES = {
    "fulfilment.*": {"queue": "fulfilment"},
    "notifications.*": {"queue": "notifications"},
    "payments.webhook*": {"queue": "webhooks"},
}
# At-least-once delivery: a task is acknowledged after it ran, and redelivered if its worker died.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Redis redelivers an unacknowledged message after the visibility timeout; keep it above the
# longest task time limit so a slow task is not run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic tasks declared in code; the DatabaseScheduler syncs them into the admin-editable table.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "orders-expire-pending": {"task": "orders.expire_pending", "schedule": 60.0},
    "marketplace-idempotency-prune": {"task": "marketplace.idempotency_prune", "schedule": 3600.0},
    "payments-reconcile": {"task": "payments.reconcile", "schedule": 600.0},
    "fulfilment-sweep-unfulfilled": {"task": "fulfilment.sweep_unfulfilled", "schedule": 60.0},
    "notifications-sweep-pending": {"task": "notifications.sweep_pending", "schedule": 60.0},
    "catalog-ballots-draw-due": {"task": "catalog.ballots_draw_due", "schedule": 30.0},
    "catalog-ballots-sweep-offers": {"task": "catalog.ballots_sweep_offers", "schedule": 60.0},
    # Expired vouchers give their value back to the pool (campaigns that say so) every 5 minutes.
    "vouchers-expire-due": {"task": "vouchers.expire_due", "schedule": 300.0},
}
