"""The base Celery task every task of the project uses (config/celery.py sets it as task_cls).

At-least-once delivery with idempotent tasks (DESIGN.md habit 5): messages are acknowledged after
the task ran (`acks_late`) and redelivered if the worker died (`reject_on_worker_lost`); retries
happen only for transient errors, with exponential backoff and jitter, capped.
"""

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


class BaseTask(Task):  # type: ignore[type-arg]
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8
    time_limit = 300
    soft_time_limit = 240


@shared_task(name="marketplace.idempotency_prune")
def idempotency_prune() -> int:
    """Beat, hourly: delete Idempotency-Key records older than their 24 hours. Idempotent."""
    from marketplace.api.idempotency import idempotency_prune as prune

    return prune()
