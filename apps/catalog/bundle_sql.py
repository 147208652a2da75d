"""Bundles in the catalog's one SELECT (apps.catalog.selectors): how many whole bundles are left,
whether every component is on sale, and the components themselves as JSON.

Written as SQL text around the row's own columns rather than nested ORM expressions: the catalog
compiles its query on every request, and the same three subqueries built from Subquery / OuterRef /
JSONObject cost about 14 ms of compilation per page (measured), against a fraction of a
millisecond here. Each is evaluated by Postgres for bundle rows only (inside CASE / OR on
`kind`), over indexed rows (bundle_component_once, edition_available, slot_product_start).
"""

# ruff: noqa: S608 - table and column names come from the models; every value is a parameter

from datetime import datetime
from typing import Any

from django.db.models import BooleanField, F, Field, Func, IntegerField, JSONField

from apps.catalog.models import BundleComponent, Edition, EditionStatus, Product, ProductKind, ServiceSlot
from apps.exhibitors.models import Exhibitor, ExhibitorStatus


class RowSQL(Func):
    """SQL text that names the row's own `{pk}` and `{kind}` columns; `params` fill its %s in order.

    The two columns are compiled by the ORM (so a table alias is honoured); everything else is a
    fixed string built once per process.
    """

    def __init__(self, sql: str, params: list[Any], output_field: Field) -> None:
        super().__init__(F("pk"), F("kind"), output_field=output_field)
        self.sql, self.sql_params = sql, params

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **kwargs: Any) -> tuple[str, list[Any]]:
        (pk_sql, pk_params), (kind_sql, kind_params) = (compiler.compile(e) for e in self.get_source_expressions())
        if pk_params or kind_params:  # plain columns never carry parameters
            raise ValueError("RowSQL expects column references.")
        return self.sql.replace("{pk}", pk_sql).replace("{kind}", kind_sql), list(self.sql_params)


def _table(model: Any) -> str:
    return f'"{model._meta.db_table}"'


def _column(model: Any, name: str) -> str:
    return model._meta.get_field(name).column


_FROM_COMPONENTS = f"FROM {_table(BundleComponent)} bc JOIN {_table(Product)} c ON c.id = bc.component_id"
_OF_BUNDLE = "WHERE bc.bundle_id = {pk}"
_AND_EXHIBITORS = f"JOIN {_table(Exhibitor)} x ON x.id = c.exhibitor_id"

# Units of the component still for sale (as apps.catalog.selectors._remaining_expression), divided
# by its quantity per bundle; the least of them. NULL: every component unlimited.
_REMAINING = f"""(SELECT MIN(CASE
    WHEN c.kind = '{ProductKind.COLLECTIBLE.value}' THEN (SELECT count(*) FROM {_table(Edition)} e
        WHERE e.product_id = c.id AND e.status = '{EditionStatus.AVAILABLE.value}')
    WHEN c.kind = '{ProductKind.SERVICE.value}' THEN COALESCE((SELECT SUM(s.capacity - s.taken) FROM {_table(ServiceSlot)} s
        WHERE s.product_id = c.id AND s.starts_at > %s), 0)
    WHEN c.stock_total IS NULL THEN NULL
    ELSE c.stock_total - c.stock_taken END / bc.quantity) {_FROM_COMPONENTS} {_OF_BUNDLE})"""

# True for other kinds; a bundle is on sale only while each component is (published, its exhibitor
# approved, inside its own sale window), as order placement requires.
_COMPONENTS_ON_SALE = f"""({{kind}} <> '{ProductKind.BUNDLE.value}' OR NOT EXISTS (
    SELECT 1 {_FROM_COMPONENTS} {_AND_EXHIBITORS} {_OF_BUNDLE}
    AND NOT (c.is_published AND x.status = '{ExhibitorStatus.APPROVED.value}'
             AND (c.sale_starts_at IS NULL OR c.sale_starts_at <= %s) AND (c.sale_ends_at IS NULL OR c.sale_ends_at > %s))))"""

_COMPONENTS_JSON = f"""(CASE WHEN {{kind}} = '{ProductKind.BUNDLE.value}' THEN (SELECT jsonb_agg(jsonb_build_object(
    'id', c.id, 'title_en', c.{_column(Product, "title_en")}, 'title_zh_hans', c.{_column(Product, "title_zh_hans")},
    'exhibitor_slug', x.slug, 'exhibitor_name_en', x.{_column(Exhibitor, "name_en")},
    'exhibitor_name_zh_hans', x.{_column(Exhibitor, "name_zh_hans")}, 'quantity', bc.quantity, 'share_bps', bc.share_bps)
    ORDER BY bc.id) {_FROM_COMPONENTS} {_AND_EXHIBITORS} {_OF_BUNDLE}) END)"""


def bundle_remaining(now: datetime) -> RowSQL:
    """Whole bundles left (for a bundle row): the scarcest component's units / its quantity."""
    return RowSQL(_REMAINING, [now], IntegerField())


def bundle_components_on_sale(now: datetime) -> RowSQL:
    """A boolean: not a bundle, or every component on sale now."""
    return RowSQL(_COMPONENTS_ON_SALE, [now, now], BooleanField())


def bundle_components_json() -> RowSQL:
    """A bundle's components as a JSON list in their order (ids, both languages' titles and
    exhibitor names, quantity, share); NULL for other kinds."""
    return RowSQL(_COMPONENTS_JSON, [], JSONField())
