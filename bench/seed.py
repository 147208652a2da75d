"""Bulk seeding in SQL (INSERT ... SELECT generate_series): thousands of rows per statement, so even
S6's million orders take seconds, not the minutes the ORM would.

Rows are shaped like the ones the services write (same statuses, prices in minor units, editions
pre-created, slots with a capacity); only what the scenarios read is filled in.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

BENCH_USER_ID_BASE = 7_000_000  # bulk users get ids above this, so captured SQL shows them unambiguously


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True)


def exhibitor(conn: psycopg.Connection[Any], slug: str) -> int:
    row = conn.execute(
        """INSERT INTO exhibitors_exhibitor (created_at, updated_at, slug, name, name_en, hall, booth, description,
               description_en, contact_email, status, approved_at, commission_bps)
           VALUES (now(), now(), %(s)s, %(s)s, %(s)s, 'H1', 'B1', 'bench exhibitor', 'bench exhibitor', 'bench@bench.test',
                   'approved', now(), 1000)
           ON CONFLICT (slug) DO UPDATE SET updated_at = now() RETURNING id""",
        {"s": slug},
    ).fetchone()
    assert row
    return int(row[0])


def users(conn: psycopg.Connection[Any], count: int, password_hash: str) -> list[int]:
    """`count` active shoppers with ids above BENCH_USER_ID_BASE (continuing after the last one)."""
    start = conn.execute("SELECT greatest(coalesce(max(id), 0), %s) + 1 FROM accounts_user", (BENCH_USER_ID_BASE,)).fetchone()
    assert start
    first = int(start[0])
    tag = secrets.token_hex(3)
    conn.execute(
        """INSERT INTO accounts_user (id, password, is_superuser, first_name, last_name, is_staff, is_active, date_joined,
               email, language)
           OVERRIDING SYSTEM VALUE
           SELECT g, %s, false, '', '', false, true, now(), 'b' || g || '-' || %s || '@bench.test', 'en'
           FROM generate_series(%s::bigint, %s::bigint) g""",
        (password_hash, tag, first, first + count - 1),
    )
    conn.execute("SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), (SELECT max(id) FROM accounts_user))")
    return list(range(first, first + count))


def _product(conn: psycopg.Connection[Any], exhibitor_id: int, *, kind: str, slug: str, price: int = 1999,
             edition_size: int | None = None, stock_total: int | None = None) -> int:
    row = conn.execute(
        """INSERT INTO catalog_product (created_at, updated_at, kind, slug, title, title_en, description, description_en,
               price, currency, is_published, edition_size, stock_total, stock_taken, exhibitor_id, meeting_url, image,
               sale_mode)
           VALUES (now(), now(), %s, %s, %s, %s, 'A benchmark product.', 'A benchmark product.', %s, 'CNY', true, %s, %s, 0, %s,
                   '', '', 'first_come')
           RETURNING id""",
        (kind, slug, slug.replace("-", " ").title(), slug.replace("-", " ").title(), price, edition_size, stock_total, exhibitor_id),
    ).fetchone()
    assert row
    return int(row[0])


def collectible(conn: psycopg.Connection[Any], exhibitor_id: int, slug: str, editions: int) -> int:
    product_id = _product(conn, exhibitor_id, kind="collectible", slug=slug, edition_size=editions)
    conn.execute(
        "INSERT INTO catalog_edition (product_id, serial, status) SELECT %s, g, 'available' FROM generate_series(1, %s) g",
        (product_id, editions),
    )
    return product_id


def service(conn: psycopg.Connection[Any], exhibitor_id: int, slug: str, slots: int, capacity: int) -> tuple[int, list[int]]:
    product_id = _product(conn, exhibitor_id, kind="service", slug=slug)
    rows = conn.execute(
        """INSERT INTO catalog_serviceslot (created_at, updated_at, starts_at, ends_at, capacity, taken, product_id, meeting_url)
           SELECT now(), now(), now() + interval '2 days' + g * interval '30 minutes',
                  now() + interval '2 days' + g * interval '30 minutes' + interval '25 minutes', %s, 0, %s, ''
           FROM generate_series(1, %s) g ORDER BY g RETURNING id""",
        (capacity, product_id, slots),
    ).fetchall()
    return product_id, sorted(int(r[0]) for r in rows)


def download(conn: psycopg.Connection[Any], exhibitor_id: int, slug: str, stock: int | None) -> int:
    """A download product with one file row (fulfilment refuses a download that delivers nothing)."""
    product_id = _product(conn, exhibitor_id, kind="download", slug=slug, stock_total=stock)
    conn.execute(
        """INSERT INTO catalog_downloadfile (created_at, updated_at, product_id, name, file, size)
           VALUES (now(), now(), %s, 'guide.pdf', 'downloads/bench/guide.pdf', 13)""",
        (product_id,),
    )
    return product_id


def catalog(conn: psycopg.Connection[Any], exhibitor_id: int, prefix: str, per_kind: int = 100) -> list[int]:
    """A realistic public catalog: collectibles (1,000 editions each), services (10 slots), downloads."""
    ids = []
    for i in range(per_kind):
        ids.append(collectible(conn, exhibitor_id, f"{prefix}-art-{i}", 1000))
        ids.append(service(conn, exhibitor_id, f"{prefix}-session-{i}", 10, 5)[0])
        ids.append(download(conn, exhibitor_id, f"{prefix}-ebook-{i}", 500 if i % 2 else None))
    return ids


def orders_bulk(conn: psycopg.Connection[Any], *, user_ids: tuple[int, int], product_id: int, exhibitor_id: int,
                count: int, status: str = "paid", prefix: str = "B", batch: int = 250_000) -> None:
    """`count` orders of one line each (plus their placement event), spread over the user id range."""
    lo, hi = user_ids
    done = 0
    while done < count:
        n = min(batch, count - done)
        conn.execute(
            """WITH o AS (
                  INSERT INTO orders_order (created_at, updated_at, id, number, status, needs_attention, currency, subtotal,
                      discount, total, expires_at, status_changed_at, user_id)
                  SELECT now() - g * interval '1 second', now(), gen_random_uuid(),
                         %(prefix)s || lpad(to_hex(%(off)s + g), 10, '0'), %(status)s, false, 'CNY', 1999, 0, 1999,
                         now() + interval '15 minutes', now(), %(lo)s + (g %% (%(hi)s - %(lo)s + 1))
                  FROM generate_series(1, %(n)s) g
                  RETURNING id, created_at
                ), l AS (
                  INSERT INTO orders_orderline (title, quantity, unit_price, total, currency, stock_held, quota_counted,
                      created_at, exhibitor_id, order_id, product_id)
                  SELECT 'Bench product', 1, 1999, 1999, 'CNY', 0, 0, o.created_at, %(ex)s, o.id, %(p)s FROM o
                )
                INSERT INTO orders_orderevent (from_status, to_status, note, payload, created_at, order_id)
                SELECT '', 'pending_payment', 'placed', '{}'::jsonb, o.created_at, o.id FROM o""",
            {"off": done, "prefix": prefix[:5], "status": status, "lo": lo, "hi": hi, "n": n, "ex": exhibitor_id, "p": product_id},
        )
        done += n


def ballot(conn: psycopg.Connection[Any], exhibitor_id: int, slug: str, *, editions: int, user_ids: tuple[int, int],
           registrations: int) -> tuple[int, int]:
    """A collectible sold by ballot (catalog_ballot, the row `ballot_save` writes) whose registration
    has closed and whose draw is due, with `registrations` entries from distinct users of the id
    range `user_ids` (registration order = id order, as `ballot_register` would leave them).
    Seed and commitment as `ballot_save` makes them: 64 random hex characters, SHA-256 of their
    UTF-8 bytes; public ids 16 random hex characters (`secrets.token_hex(8)` in the service).
    Returns (product id, ballot id)."""
    lo, hi = user_ids
    assert hi - lo + 1 >= registrations, "one registration per shopper: not enough users"
    product_id = collectible(conn, exhibitor_id, slug, editions)
    conn.execute("UPDATE catalog_product SET sale_mode = 'ballot' WHERE id = %s", (product_id,))
    seed_value = secrets.token_hex(32)
    row = conn.execute(
        """INSERT INTO catalog_ballot (created_at, updated_at, product_id, registration_starts_at, registration_ends_at, draw_at,
               purchase_window_minutes, seed, seed_sha256, status, drawn_at, registrations_count, winners_count)
           VALUES (now() - interval '2 days', now(), %(p)s, now() - interval '2 days', now() - interval '1 hour',
                   now() - interval '1 minute', 60, %(seed)s::text, encode(sha256(convert_to(%(seed)s::text, 'UTF8')), 'hex'),
                   'registration', NULL, %(n)s, NULL)
           RETURNING id""",
        {"p": product_id, "seed": seed_value, "n": registrations},
    ).fetchone()
    assert row
    ballot_id = int(row[0])
    conn.execute(
        """INSERT INTO catalog_ballotentry (ballot_id, user_id, public_id, registered_at, status)
           SELECT %(b)s, %(lo)s + g - 1, left(md5(random()::text || clock_timestamp()::text || g), 16),
                  now() - interval '2 days' + g * interval '1 second', 'registered'
           FROM generate_series(1, %(n)s) g ORDER BY g""",
        {"b": ballot_id, "lo": lo, "n": registrations},
    )
    return product_id, ballot_id
