from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.orders.models import Order, OrderLine
from tests.factories import ProductFactory, ShopperFactory, place_order


@pytest.fixture(autouse=True)
def _fast_celery_probe(settings):
    """No worker runs in the unit suite: a ping would wait its whole timeout for nobody."""
    settings.OPS_CELERY_PING_TIMEOUT = 0.01


@pytest.fixture
def shopper(db):
    return ShopperFactory(email="buyer@shopper.test")


@pytest.fixture
def product_a(exhibitor_a):
    return ProductFactory(exhibitor=exhibitor_a, price=1999)


@pytest.fixture
def product_b(exhibitor_b):
    return ProductFactory(exhibitor=exhibitor_b, price=500)


@pytest.fixture
def place(shopper):
    """place(product, qty=1) -> an order placed through the service."""

    def _place(product, quantity=1, user=None):
        return place_order(user or shopper, (product, quantity))

    return _place


def age_order(order: Order, *, seconds: float) -> None:
    """Pretend the order's last state change was `seconds` ago (tests only)."""
    Order.objects.filter(pk=order.pk).update(status_changed_at=timezone.now() - timedelta(seconds=seconds))


def bulk_orders(*, user, product, count: int, status: str = "fulfilled", needs_attention: bool = False,
                age_seconds: int = 0) -> None:
    """`count` orders with one line each, inserted by one SQL statement (generate_series)."""
    order_table, line_table = Order._meta.db_table, OrderLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH o AS (
                INSERT INTO {order_table} (id, number, user_id, status, needs_attention, currency, subtotal, discount,
                                           total, expires_at, status_changed_at, created_at, updated_at)
                SELECT gen_random_uuid(), 'BX-' || substr(md5(random()::text || i::text), 1, 12), %s, %s, %s, 'CNY',
                       %s, 0, %s, now() + interval '15 minutes', now() - make_interval(secs => %s + i %% 50), now(), now()
                FROM generate_series(1, %s) AS i
                RETURNING id
            )
            INSERT INTO {line_table} (order_id, product_id, exhibitor_id, title, quantity, unit_price, total, currency,
                                      stock_held, quota_counted, created_at)
            SELECT o.id, %s, %s, %s, 1, %s, %s, 'CNY', 0, 0, now() FROM o
            """,
            [user.pk, status, needs_attention, product.price, product.price, age_seconds, count,
             product.pk, product.exhibitor_id, product.title, product.price, product.price],
        )


@pytest.fixture
def simulated_payments(settings, monkeypatch):
    """The dashboard's sales go through the simulated provider; tasks enqueued after commit go nowhere."""
    settings.PAYMENT_PROVIDER = "simulated"
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


@pytest.fixture
def now():
    """The dashboard tests' fixed "now" (tests/operations/dashboard_helpers.py)."""
    from tests.operations.dashboard_helpers import next_wednesday_noon

    return next_wednesday_noon()
