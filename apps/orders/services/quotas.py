"""Per-customer quotas, counted in the database (`CustomerProductQuota`): claimed by placement and
by a late payment, released with an order's holds or a refunded line."""

from django.db import connection
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Product
from apps.orders.models import CustomerProductQuota
from marketplace.errors import LimitExceeded


def _claim_quotas(*, user_id: int, wanted: dict[int, tuple[int, int]]) -> None:
    """Count units against per-customer limits ({product_id: (quantity, limit)}), in the database.

    A conditional upsert: a first purchase inserts the row, later ones add to it only while the
    total stays within the limit; concurrent orders of one shopper serialise on the row.
    """
    if not wanted:
        return
    rows = sorted((pid, qty, limit) for pid, (qty, limit) in wanted.items())
    values = ", ".join(["(%s::bigint, %s::integer, %s::integer)"] * len(rows))
    table = CustomerProductQuota._meta.db_table
    product_table = Product._meta.db_table
    sql = f"""
        INSERT INTO {table} AS q (user_id, product_id, units)
        SELECT %s, w.product_id, w.qty FROM (VALUES {values}) AS w(product_id, qty, lim)
        WHERE w.qty <= w.lim ORDER BY w.product_id
        ON CONFLICT (user_id, product_id) DO UPDATE SET units = q.units + EXCLUDED.units
        WHERE q.units + EXCLUDED.units <= (SELECT p.per_customer_limit FROM {product_table} p WHERE p.id = EXCLUDED.product_id)
        RETURNING q.product_id
    """  # noqa: S608 - only table names and placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, *(v for row in rows for v in row)])
        counted = {row[0] for row in cursor.fetchall()}
    if counted != set(wanted):
        raise LimitExceeded(_("This exceeds the per-customer limit across your open and paid orders."))


def _release_quotas(*, user_id: int, counted: dict[int, int]) -> None:
    if not counted:
        return
    rows = sorted(counted.items())
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(rows))
    table = CustomerProductQuota._meta.db_table
    sql = f"""
        WITH w(product_id, qty) AS (VALUES {values}),
        locked AS MATERIALIZED (
            SELECT q.id FROM {table} q WHERE q.user_id = %s AND q.product_id IN (SELECT product_id FROM w)
            ORDER BY q.product_id FOR UPDATE OF q
        )
        UPDATE {table} q SET units = q.units - w.qty FROM w, locked l
        WHERE l.id = q.id AND q.product_id = w.product_id AND q.units >= w.qty
    """  # noqa: S608 - only table names and placeholders are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(v for row in rows for v in row), user_id])
