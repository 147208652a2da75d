"""The base Celery task every task of the project uses (config/celery.py sets it as task_cls).

At-least-once delivery with idempotent tasks (DESIGN.md habit 5): messages are acknowledged after
the task ran (`acks_late`) and redelivered if the worker died (`reject_on_worker_lost`); retries
happen only for transient errors, with exponential backoff and jitter, capped.
"""

from typing import Any

import structlog
from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, transaction
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


# Publishing to a broker that is down must not stall the request or task that committed the
# change: a few quick tries, then give up; the owner's beat sweep re-drives what was not sent.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

_log = structlog.get_logger(__name__)


def enqueue_on_commit(task: Task | str, /, *, countdown: float | None = None, **kwargs: Any) -> None:  # type: ignore[type-arg]
    """Send `task` (a task object, or its registered name) with `kwargs` once the current
    transaction commits, immediately when none is open; nothing is sent if it rolls back.

    The one way the project enqueues (DESIGN.md habit 4). A broker error is logged, never raised:
    the change is already committed and every task has a beat sweep that catches up. The message
    goes through `app.send_task`, which tests replace with a recorder.
    """
    name = task if isinstance(task, str) else task.name

    def send() -> None:
        from config.celery import app

        try:
            app.send_task(name, kwargs=kwargs, countdown=countdown, retry_policy=PUBLISH_RETRY)
        except Exception:  # broker down or misconfigured: the sweep catches up
            _log.warning("enqueue_failed", task=name, exc_info=True)

    transaction.on_commit(send)


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
