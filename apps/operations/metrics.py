"""Prometheus gauges for the console's numbers, computed on scrape from the same selector.

Registered once on the default registry (the one django-prometheus serves on /metrics). A scrape
costs the summary's fixed handful of indexed queries plus the cached Celery probe; if the database
or broker is unreachable the scrape still answers (the affected gauges are simply absent) and
the failure is logged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import structlog
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = structlog.get_logger(__name__)

_registered = False


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "items": GaugeMetricFamily("expo_ops_queue_items", "Items waiting in an operations queue.", labels=["queue"]),
        "age": GaugeMetricFamily("expo_ops_queue_oldest_age_seconds", "Age of the oldest item of an operations queue.",
                                 labels=["queue"]),
        "breached": GaugeMetricFamily("expo_ops_queue_breached", "1 when the oldest item is older than the queue's threshold.",
                                      labels=["queue"]),
        "depth": GaugeMetricFamily("expo_celery_queue_depth", "Messages waiting in a Celery broker queue.", labels=["queue"]),
        "workers": GaugeMetricFamily("expo_celery_workers_online", "Celery workers answering a ping."),
        "failed": GaugeMetricFamily("expo_celery_tasks_failed_last_hour", "Celery tasks that failed in the last hour."),
    }


class OpsQueuesCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Declared without samples so registering touches neither the database nor the broker.
        return iter(_families().values())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from apps.operations.selectors import celery_status, queue_summary

        families = _families()
        try:
            queues = queue_summary(user=None)
            celery = celery_status()
        except Exception:  # a scrape must not fail because the database is down
            logger.warning("ops_metrics_collect_failed", exc_info=True)
            return iter(())
        for queue in queues:
            families["items"].add_metric([queue.name], queue.count)
            if queue.oldest_age_seconds is not None:
                families["age"].add_metric([queue.name], queue.oldest_age_seconds)
            families["breached"].add_metric([queue.name], 1 if queue.breached else 0)
        for name, depth in celery.queues.items():
            if depth is not None:
                families["depth"].add_metric([name], depth)
        if celery.workers_online is not None:
            families["workers"].add_metric([], celery.workers_online)
        families["failed"].add_metric([], celery.tasks_failed_last_hour)
        return iter(families.values())


def register_collector() -> None:
    """Register the collector on the default registry, once per process."""
    global _registered
    if _registered:
        return
    # ValueError: already registered (the app registry was populated again in this process).
    with contextlib.suppress(ValueError):
        REGISTRY.register(OpsQueuesCollector())
    _registered = True
