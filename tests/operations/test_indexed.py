"""With many orders, every query of the summary is answered through indexes: EXPLAIN shows no
sequential scan of the orders table (nor of the other tables that grow with history: order events,
payment events, notifications), for operators and for exhibitor staff."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.notifications.models import Notification
from apps.operations import selectors
from apps.orders.models import Order, OrderEvent, OrderLine, OrderStatus
from apps.payments.models import WebhookEvent
from tests.operations.conftest import bulk_orders

MANY = 20_000
# The tables of the summary that grow with the expo's history (20k rows each here).
BIG_TABLES = [model._meta.db_table for model in (Order, OrderEvent, WebhookEvent, Notification)]


def _explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def _summary(user):
    selectors.queue_summary(user=user)
    selectors.order_throughput(user=user)


@pytest.fixture
def many_orders(shopper, product_a, product_b):
    """20k orders, almost all fulfilled (the history), a few hundred open; ~2 days of events."""
    bulk_orders(user=shopper, product=product_b, count=MANY - 600, status=OrderStatus.FULFILLED, age_seconds=86_400)
    bulk_orders(user=shopper, product=product_a, count=250, status=OrderStatus.PENDING_PAYMENT)
    bulk_orders(user=shopper, product=product_a, count=250, status=OrderStatus.PAID)
    bulk_orders(user=shopper, product=product_b, count=100, status=OrderStatus.PAID, needs_attention=True)
    events = OrderEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {events} (order_id, from_status, to_status, note, payload, created_at)
                SELECT id, '', 'pending_payment', 'placed', '{{}}', now() - random() * interval '2 days'
                FROM {Order._meta.db_table}"""
        )
        # The other growing tables of the summary: provider events (processed) and notifications (sent).
        cursor.execute(
            f"""INSERT INTO {WebhookEvent._meta.db_table} (provider, event_id, type, object_reference, payload, status,
                                                          error, attempts, received_at)
                SELECT 'simulated', 'evt_' || i, 'payment_intent.succeeded', '', '{{}}',
                       CASE WHEN i %% 1000 = 0 THEN 'failed' ELSE 'processed' END, '', 1, now() - i * interval '1 second'
                FROM generate_series(1, %s) AS i""",
            [MANY],
        )
        cursor.execute(
            f"""INSERT INTO {Notification._meta.db_table} (dedupe_key, kind, channel, recipient_email, language, context,
                                                          status, attempts, last_error, created_at)
                SELECT 'n-' || i, 'order_confirmed', 'email', 'a@b.test', 'en', '{{}}',
                       CASE WHEN i %% 1000 = 0 THEN 'failed' ELSE 'sent' END, 1, '', now() - i * interval '1 second'
                FROM generate_series(1, %s) AS i""",
            [MANY],
        )
        for model in (Order, OrderEvent, OrderLine, WebhookEvent, Notification):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    assert Order.objects.count() == MANY


@pytest.mark.slow
@pytest.mark.parametrize("who", ["operator", "staff_a", "staff_b"])
def test_no_sequential_scan_on_orders_at_20k_orders(request, many_orders, who):
    user = request.getfixturevalue(who)
    _summary(user)  # warm the user's cached scope so only the summary's own queries are captured

    with CaptureQueriesContext(connection) as captured:
        _summary(user)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        _summary(user)
        timings.append((time.perf_counter() - started) * 1000)
    elapsed_ms = sorted(timings)[2]

    assert len(captured.captured_queries) == {"operator": 7, "staff_a": 4 + 1, "staff_b": 4 + 1}[who]
    for query in captured.captured_queries:
        plan = _explain(query["sql"])
        for table in BIG_TABLES:
            assert f"Seq Scan on {table} " not in plan + " ", plan
    print(f"\nsummary+throughput for {who} at {MANY} orders: median {elapsed_ms:.1f} ms")
