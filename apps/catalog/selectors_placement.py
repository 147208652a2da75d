"""Reads for order placement: an order's products and slots by id, from statements built once per process.

Placement reads the products of every order (and the slots of every booking) before its claim
transaction. Built through the ORM, the product read (product JOIN exhibitor LEFT JOIN the drops'
holder priority, as `filter(...).select_related("priority")` writes it) was recompiled on every
request: about a quarter of a purchase's web-tier CPU (bench/cpu.py, issue 15). Here the SQL is
written once per process from the models' own metadata (every concrete column, so a field added to
a model is read without touching this module) with the ids as one array parameter, and the rows
become model instances exactly as Django's own iterator makes them (`Model.from_db`, each field's
`from_db_value` converters, the priority cached on its product both ways, None when there is none).

The callers: apps/orders/services/placement.py (`_load_products`, the slots of an order) and the
S1b/S5 bare views in bench/views.py, which must run the same statements.
"""

# ruff: noqa: S608 - table and column names come from the models; every value is a parameter

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from apps.catalog.models import HolderPriority, Product, ServiceSlot
from apps.exhibitors.models import Exhibitor, ExhibitorStatus

Converter = Callable[[Any, Any, Any], Any]
BIGINT = 2**63


@cache
def _columns(model: type[Model], alias: str) -> tuple[str, tuple[str, ...], tuple[tuple[int, tuple[Converter, ...], Any], ...]]:
    """`alias."col", ...` of the model's concrete fields, their attnames (Model.from_db's order)
    and the converters of the fields that have any (what Django's compiler applies to a row)."""
    db = connections[DEFAULT_DB_ALIAS]
    fields = model._meta.concrete_fields
    select = ", ".join(f"{alias}.{db.ops.quote_name(f.column)}" for f in fields)
    converters = []
    for i, field in enumerate(fields):
        col = field.get_col(alias)
        found = tuple(db.ops.get_db_converters(col)) + tuple(field.get_db_converters(db))  # type: ignore[attr-defined]
        if found:
            converters.append((i, found, col))
    return select, tuple(f.attname for f in fields), tuple(converters)


def _instance(model: type[Model], alias: str, values: Any, db: Any) -> Any:
    _select, attnames, converters = _columns(model, alias)
    if converters:
        values = list(values)
        for i, funcs, col in converters:
            for func in funcs:
                values[i] = func(values[i], col, db)
    return model.from_db(DEFAULT_DB_ALIAS, attnames, values)


@cache
def _products_sql() -> str:
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name

    def col(model: type[Model], name: str) -> str:
        return quote(model._meta.get_field(name).column)  # type: ignore[union-attr, arg-type]

    return (f"SELECT {_columns(Product, 'p')[0]}, {_columns(HolderPriority, 'h')[0]} FROM {quote(Product._meta.db_table)} p "
            f"JOIN {quote(Exhibitor._meta.db_table)} e ON e.{col(Exhibitor, 'id')} = p.{col(Product, 'exhibitor')} "
            f"LEFT JOIN {quote(HolderPriority._meta.db_table)} h ON h.{col(HolderPriority, 'product')} = p.{col(Product, 'id')} "
            f"WHERE p.{col(Product, 'id')} = ANY(%s::bigint[]) AND p.{col(Product, 'is_published')} "
            f"AND e.{col(Exhibitor, 'status')} = %s")


def _bigints(ids: Iterable[int]) -> str:
    """The ids a bigint key can have (the ORM's `id__in` drops the others likewise), sorted, as
    an array literal: one text parameter, whatever the ids' size (psycopg would pick int2[],
    int4[] or int8[] for a list by its largest value, and the statement's text would vary)."""
    return "{" + ",".join(str(i) for i in sorted({int(i) for i in ids if -BIGINT <= i < BIGINT})) + "}"


def product_map_for_placement(*, ids: Iterable[int]) -> dict[int, Product]:
    """The published products of approved exhibitors among `ids`, by id, each with its holder
    priority joined (`product.priority` answers without a query; None-cached when it has none, as
    `select_related("priority")` leaves it). Ids that are not such products are simply absent.
    One query."""
    db = connections[DEFAULT_DB_ALIAS]
    width = len(_columns(Product, "p")[1])
    priority_pk = HolderPriority._meta.concrete_fields.index(HolderPriority._meta.pk)  # type: ignore[arg-type]
    to_priority = Product.priority.related  # type: ignore[attr-defined]
    to_product = HolderPriority._meta.get_field("product")
    with db.cursor() as cursor:
        cursor.execute(_products_sql(), [_bigints(ids), ExhibitorStatus.APPROVED])
        rows = cursor.fetchall()
    products = {}
    for row in rows:
        product = _instance(Product, "p", row[:width], db)
        priority = None
        if row[width + priority_pk] is not None:
            priority = _instance(HolderPriority, "h", row[width:], db)
            to_product.set_cached_value(priority, product)  # type: ignore[union-attr]
        to_priority.set_cached_value(product, priority)
        products[product.pk] = product
    return products


@cache
def _slots_sql() -> str:
    db = connections[DEFAULT_DB_ALIAS]
    return (f"SELECT {_columns(ServiceSlot, 's')[0]} FROM {db.ops.quote_name(ServiceSlot._meta.db_table)} s "
            f"WHERE s.{db.ops.quote_name(ServiceSlot._meta.pk.column)} = ANY(%s::bigint[])")  # type: ignore[union-attr]


def slot_map_for_placement(*, ids: Iterable[int]) -> dict[int, ServiceSlot]:
    """The service slots among `ids`, by id (any product, any time: placement checks both). One query."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(_slots_sql(), [_bigints(ids)])
        rows = cursor.fetchall()
    return {slot.pk: slot for slot in (_instance(ServiceSlot, "s", row, db) for row in rows)}
