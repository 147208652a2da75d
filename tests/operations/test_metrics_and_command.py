"""The same numbers as Prometheus gauges on /metrics and in the terminal (`orderqueues`)."""

import re
from io import StringIO

from django.core.management import call_command

from apps.orders import services as order_services


def test_metrics_expose_queue_gauges(client, place, product_a):
    place(product_a)
    paid = place(product_a)
    order_services.order_mark_paid(order_id=paid.pk)

    text = client.get("/metrics").content.decode()

    assert 'expo_ops_queue_items{queue="pending_payment"} 1.0' in text
    assert 'expo_ops_queue_items{queue="fulfilling"} 1.0' in text
    assert 'expo_ops_queue_items{queue="webhook_events"} 0.0' in text
    assert 'expo_ops_queue_breached{queue="pending_payment"} 0.0' in text
    assert re.search(r'expo_ops_queue_oldest_age_seconds\{queue="pending_payment"\} \d', text)
    assert 'expo_celery_queue_depth{queue="fulfilment"}' in text
    assert "expo_celery_workers_online 0.0" in text
    assert "expo_celery_tasks_failed_last_hour 0.0" in text


def test_the_collector_is_registered_once():
    from prometheus_client import REGISTRY

    from apps.operations.metrics import OpsQueuesCollector, register_collector

    register_collector()
    register_collector()

    collectors = [c for c in REGISTRY._collector_to_names if isinstance(c, OpsQueuesCollector)]
    assert len(collectors) == 1


def test_orderqueues_once_prints_the_table(place, product_a, product_b):
    place(product_a)
    place(product_b)
    out = StringIO()

    call_command("orderqueues", "--once", stdout=out)

    text = out.getvalue()
    assert re.search(r"^Pending payment\s+2\s+\d+s\s+\d+m", text, re.MULTILINE), text
    assert re.search(r"^Needs attention\s+0\s+–", text, re.MULTILINE), text
    assert "Last hour: placed 2 · paid 0 · fulfilled 0" in text
    assert "Celery: workers online 0" in text
    assert "Broker queues: default=" in text
    assert "\x1b[" not in text  # no screen clearing when printing once


def test_orderqueues_watch_exits_cleanly_on_ctrl_c(db, monkeypatch):
    from apps.operations.management.commands import orderqueues

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(orderqueues.time, "sleep", interrupt)
    out = StringIO()

    call_command("orderqueues", "--watch", "--interval", "1", stdout=out)

    assert out.getvalue().startswith(orderqueues.CLEAR + "Order queues at ")


def test_an_unreachable_broker_is_reported_not_raised(db, settings):
    from apps.operations.selectors import celery_status

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    status = celery_status()

    assert status.broker_error
    assert set(status.queues.values()) == {None}
    assert status.workers_online is None
