"""A new order's rows (the order, its lines, their edition links, the "placed" event) in one statement.

Placement used to write them with four ORM statements (create, two bulk_create, create): four round
trips and four compilations, a third of a purchase's web-tier CPU (bench/cpu.py, issue 15). Here
they are one INSERT ... WITH statement whose columns and values come from the model fields
themselves (`pre_save` and `get_db_prep_save`, as Django's own insert does), so a field added to a
model is written without touching this module. The line ids are drawn from the lines' sequence in
the same statement, so the links find their lines without a second trip.

No model signals are sent (none are connected to these models; Django's bulk_create sends none
either). Constraints and foreign keys are checked by Postgres at the end of the statement.
"""

# ruff: noqa: S608 - table and column names come from the models; every value is a parameter

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from apps.orders.models import Order, OrderEvent, OrderLine, OrderLineEdition


@cache
def _fields(model: type[Model], *, with_pk: bool) -> tuple[tuple[Any, ...], str, str]:
    """The model's concrete fields, their quoted columns and `%s::type` placeholders (computed
    once per process: `db_type` is a good part of an insert's cost when asked every time)."""
    fields = tuple(f for f in model._meta.local_concrete_fields if with_pk or not f.primary_key)
    db = connections[DEFAULT_DB_ALIAS]
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    return fields, columns, ", ".join(f"%s::{f.db_type(db)}" for f in fields)


def _row(obj: Model, model: type[Model], params: list[Any], db: Any, *, with_pk: bool, lead: Sequence[Any] = ()) -> str:
    """`(%s::type, ...)` for obj's values (auto_now fields are set on obj, like save does)."""
    fields, _columns, casts = _fields(model, with_pk=with_pk)
    params.extend(lead)
    params.extend(f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields)
    return "(" + "%s::integer, " * len(lead) + casts + ")"


def _saved(obj: Model) -> None:
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS


def order_rows_insert(*, order: Order, lines: Sequence[OrderLine], links: Sequence[OrderLineEdition],
                      event: OrderEvent) -> None:
    """INSERT the unsaved `order`, its `lines` (at least one), the `links` (each naming one of
    `lines` as its `line`) and `event` in one statement; sets the lines' and the event's ids.

    Must run inside the caller's transaction (placement's). Raises IntegrityError as the ORM's
    inserts would (a duplicate order number among them).
    """
    db = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs an attribute lookup per use
    quote = db.ops.quote_name
    params: list[Any] = []
    position = {id(line): g for g, line in enumerate(lines, start=1)}
    order_columns = _fields(Order, with_pk=True)[1]
    order_sql = (f"o AS (INSERT INTO {quote(Order._meta.db_table)} ({order_columns}) "
                 f"VALUES {_row(order, Order, params, db, with_pk=True)} RETURNING 1)")
    ids_sql = "ids AS MATERIALIZED (SELECT g, nextval(pg_get_serial_sequence(%s, %s)) AS id FROM generate_series(1, %s) AS g)"
    params.extend([OrderLine._meta.db_table, OrderLine._meta.pk.column, len(lines)])  # type: ignore[union-attr]
    line_fields, line_columns, _casts = _fields(OrderLine, with_pk=False)
    aliases = ", ".join(f"c{i}" for i in range(len(line_fields)))
    line_rows = ", ".join(_row(line, OrderLine, params, db, with_pk=False, lead=[position[id(line)]]) for line in lines)
    lines_sql = (f"l AS (INSERT INTO {quote(OrderLine._meta.db_table)} ({quote(OrderLine._meta.pk.column)}, {line_columns}) "  # type: ignore[union-attr]
                 f"SELECT ids.id, {aliases} FROM (VALUES {line_rows}) AS v(g, {aliases}) JOIN ids USING (g) RETURNING 1)")
    parts = [order_sql, ids_sql, lines_sql]
    if links:
        link_rows = ", ".join(["(%s::integer, %s::bigint)"] * len(links))
        for link in links:
            params.extend([position[id(link.line)], link.edition_id])
        columns = ", ".join(quote(cast(Any, OrderLineEdition._meta.get_field(name)).column) for name in ("line", "edition"))
        parts.append(f"le AS (INSERT INTO {quote(OrderLineEdition._meta.db_table)} ({columns}) "
                     f"SELECT ids.id, v.edition_id FROM (VALUES {link_rows}) AS v(g, edition_id) JOIN ids USING (g) RETURNING 1)")
    parts.append(f"ev AS (INSERT INTO {quote(OrderEvent._meta.db_table)} ({_fields(OrderEvent, with_pk=False)[1]}) "
                 f"VALUES {_row(event, OrderEvent, params, db, with_pk=False)} RETURNING id)")
    sql = "WITH " + ", ".join(parts) + " SELECT g, id FROM ids UNION ALL SELECT 0, id FROM ev"
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        ids = dict(cursor.fetchall())
    _saved(order)
    for g, line in enumerate(lines, start=1):
        line.pk = ids[g]
        _saved(line)
    for link in links:
        link.line_id = link.line.pk
        _saved(link)
    event.pk = ids[0]
    _saved(event)
