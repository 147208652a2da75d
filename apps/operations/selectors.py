"""Reads for the operations console, the ops API, the Prometheus collector and `orderqueues`.

The summary costs a fixed number of queries, whatever the number of orders: one aggregate per
source table (see `apps.operations.queues`), one grouped query for the last hour's throughput and
one count of failed Celery tasks. Each reads only the rows in a queue, the last hour's events or
the last hour's failures, through indexes; none grows with the order history.

`user=None` means the system's own view (everything): the metrics collector and the terminal
command use it. Views pass the request's user, and a user who is neither an operator nor
exhibitor staff sees empty queues (the views refuse them before that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Q
from django.db.models.functions import Trunc
from django.utils import timezone

from apps.operations.queues import QueueDef, queues_for
from apps.orders.models import OrderEvent, OrderStatus
from marketplace.sentinel import redis_from_url  # the broker behind Sentinel (REDIS_SENTINELS) too
from marketplace.tenancy import exhibitor_ids_for, is_operator

logger = structlog.get_logger(__name__)

THROUGHPUT_MINUTES = 60
WORKERS_CACHE_KEY = "ops:celery:workers"
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in sibling lists.
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)


@dataclass(frozen=True)
class QueueStat:
    name: str
    label: str
    count: int
    oldest_age_seconds: float | None
    threshold_seconds: int | None
    breached: bool


@dataclass(frozen=True)
class QueueItem:
    pk: str
    label: str
    detail: str
    status: str
    age_seconds: float | None
    admin_url: str | None
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ThroughputPoint:
    minute: datetime
    placed: int
    paid: int
    fulfilled: int


@dataclass(frozen=True)
class CeleryStatus:
    queues: dict[str, int | None]
    workers_online: int | None
    workers: list[str]
    tasks_failed_last_hour: int
    broker_error: str = ""


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    scope: str
    queues: list[QueueStat]
    throughput: list[ThroughputPoint]
    celery: CeleryStatus | None
    flower_url: str = ""
    exhibitor_ids: list[int] = field(default_factory=list)

    def queue(self, name: str) -> QueueStat | None:
        return next((q for q in self.queues if q.name == name), None)


def _age(oldest: datetime | None, now: datetime) -> float | None:
    return None if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 1)


def _status_label(obj: Any) -> str:
    display = getattr(obj, "get_status_display", None)
    return str(display()) if callable(display) else str(getattr(obj, "status", ""))


def _stat(queue: QueueDef, count: int, oldest: datetime | None, now: datetime) -> QueueStat:
    thresholds: dict[str, int] = getattr(settings, "OPS_QUEUE_THRESHOLDS", {})
    threshold = thresholds.get(queue.name)
    age = _age(oldest, now)
    breached = threshold is not None and count > 0 and age is not None and age > threshold
    return QueueStat(name=queue.name, label=queue.label, count=count, oldest_age_seconds=age,
                     threshold_seconds=threshold, breached=breached)


def queue_summary(*, user: Any | None, now: datetime | None = None) -> list[QueueStat]:
    """Count and oldest age of every queue `user` may see: one aggregate query per source table.

    Preconditions: none (a user without access gets zero counts). Raises nothing of its own.
    """
    now = now or timezone.now()
    queues = queues_for(user)
    by_source: dict[str, list[QueueDef]] = {}
    for queue in queues:
        by_source.setdefault(queue.source.key, []).append(queue)
    results: dict[str, tuple[int, datetime | None]] = {}
    for members in by_source.values():
        source = members[0].source
        where = Q()
        aggregates: dict[str, Any] = {}
        for queue in members:
            condition = queue.where(now)
            where |= condition
            aggregates[f"{queue.name}__n"] = Count("pk", filter=condition)
            aggregates[f"{queue.name}__min"] = Min(queue.age_field, filter=condition)
        row = source.queryset(user).filter(where).aggregate(**aggregates)
        for queue in members:
            results[queue.name] = (row[f"{queue.name}__n"] or 0, row[f"{queue.name}__min"])
    return [_stat(q, *results[q.name], now) for q in queues]


def queue_items(*, user: Any | None, queue_name: str, limit: int | None = None,
                now: datetime | None = None) -> list[QueueItem]:
    """The items behind a queue's count, newest problem first (one query, `limit` rows).

    Raises KeyError for a queue `user` may not see or that does not exist.
    """
    now = now or timezone.now()
    queue = next((q for q in queues_for(user) if q.name == queue_name), None)
    if queue is None:
        raise KeyError(queue_name)
    limit = limit or settings.OPS_ITEMS_PER_QUEUE
    rows = (
        queue.source.queryset(user).filter(queue.where(now))
        .select_related(*queue.source.select_related)
        .annotate(**queue.annotations())
        .order_by(F(queue.age_field).desc(nulls_last=True), "-pk")[:limit]
    )
    actions = queue.actions if user is None or is_operator(user) else ()
    return [
        QueueItem(
            pk=str(row.pk), label=queue.describe(row), detail=queue.detail(row), status=_status_label(row),
            age_seconds=_age(getattr(row, queue.age_field), now), admin_url=queue.admin_url(row, user), actions=actions,
        )
        for row in rows
    ]


def order_throughput(*, user: Any | None, now: datetime | None = None,
                     minutes: int = THROUGHPUT_MINUTES) -> list[ThroughputPoint]:
    """Orders placed, paid and fulfilled per minute over the last `minutes`, oldest minute first,
    every minute present (zeros filled in). One grouped query over the recent order events."""
    from apps.operations.queues import scope_by_order

    now = now or timezone.now()
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=minutes - 1)
    events = OrderEvent.objects.filter(created_at__gte=start)
    if user is not None and not is_operator(user):
        events = scope_by_order("order_id")(events, user)
    rows = (
        events.annotate(minute=Trunc("created_at", "minute"))
        .values("minute")
        .annotate(
            placed=Count("pk", filter=Q(from_status="", to_status=OrderStatus.PENDING_PAYMENT)),
            paid=Count("pk", filter=Q(from_status=OrderStatus.PENDING_PAYMENT, to_status=OrderStatus.PAID)),
            fulfilled=Count("pk", filter=Q(from_status=OrderStatus.PAID, to_status=OrderStatus.FULFILLED)),
        )
        .order_by("minute")
    )
    by_minute = {row["minute"]: row for row in rows}
    points = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        row = by_minute.get(minute, {})  # aware datetimes: equal (and hash equal) across time zones
        points.append(ThroughputPoint(minute=minute, placed=row.get("placed", 0), paid=row.get("paid", 0),
                                      fulfilled=row.get("fulfilled", 0)))
    return points


# --- Celery ------------------------------------------------------------------------------------


def _queue_names() -> list[str]:
    return [queue.name for queue in getattr(settings, "CELERY_TASK_QUEUES", [])] or [settings.CELERY_TASK_DEFAULT_QUEUE]


def broker_queue_depths() -> dict[str, int | None]:
    """Messages waiting in each broker queue (Redis LLEN of the queue and its priority lists).

    Raises redis errors (the caller reports the broker as unreachable)."""
    client = redis_from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1,
                            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    try:
        names = _queue_names()
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
            for step in _KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{name}{_KOMBU_PRIORITY_SEP}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per_queue = 1 + len(_KOMBU_PRIORITY_STEPS)
    return {name: sum(lengths[i * per_queue:(i + 1) * per_queue]) for i, name in enumerate(names)}


def celery_workers() -> list[str] | None:
    """Hostnames of the workers answering a broadcast ping (cached for OPS_CELERY_CACHE_SECONDS,
    because a ping always waits its whole timeout). None when the broker cannot be reached."""
    cached = cache.get(WORKERS_CACHE_KEY)
    if cached is not None:
        return list(cached)
    from config.celery import app

    try:
        replies = app.control.ping(timeout=settings.OPS_CELERY_PING_TIMEOUT) or []
    except Exception:  # broker down: reported as unknown, the console still renders
        logger.warning("ops_celery_ping_failed", exc_info=True)
        return None
    workers = sorted(name for reply in replies for name in reply)
    cache.set(WORKERS_CACHE_KEY, workers, settings.OPS_CELERY_CACHE_SECONDS)
    return workers


def celery_failed_tasks(*, now: datetime, since: timedelta = timedelta(hours=1)) -> int:
    from django_celery_results.models import TaskResult

    return TaskResult.objects.filter(status="FAILURE", date_done__gte=now - since).count()


def celery_status(*, now: datetime | None = None) -> CeleryStatus:
    """Broker queue depths, workers online and tasks failed in the last hour (one query)."""
    now = now or timezone.now()
    error = ""
    try:
        depths: dict[str, int | None] = broker_queue_depths()
    except Exception as exc:  # the broker being down is exactly what the console must show
        logger.warning("ops_broker_unreachable", exc_info=True)
        depths = dict.fromkeys(_queue_names())
        error = str(exc)[:200]
    # With the broker unreachable a ping would only sit in kombu's connection retries.
    workers = None if error else celery_workers()
    return CeleryStatus(
        queues=depths, workers_online=None if workers is None else len(workers), workers=workers or [],
        tasks_failed_last_hour=celery_failed_tasks(now=now), broker_error=error,
    )


# --- Everything ----------------------------------------------------------------------------------


def ops_overview(*, user: Any | None, now: datetime | None = None) -> Overview:
    """The console's numbers for `user`: queues, throughput and (operators only) Celery.

    Exhibitor staff get their exhibitors' orders only and no platform data (provider events,
    Celery). Query count: one per source table + 1 (throughput) + 1 (failed tasks, operators).
    """
    now = now or timezone.now()
    operator = user is None or is_operator(user)
    return Overview(
        generated_at=now,
        scope="all" if operator else "exhibitor",
        queues=queue_summary(user=user, now=now),
        throughput=order_throughput(user=user, now=now),
        celery=celery_status(now=now) if operator else None,
        flower_url=settings.FLOWER_URL if operator else "",
        exhibitor_ids=[] if operator else sorted(exhibitor_ids_for(user)),
    )


def can_view_console(user: Any) -> bool:
    """Operators and exhibitor staff (of at least one exhibitor) may see the console."""
    return is_operator(user) or bool(exhibitor_ids_for(user))
