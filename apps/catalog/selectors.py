"""Reads for the catalog. Public lists cost a fixed number of queries whatever the page size:
the exhibitor is joined and `remaining` is computed in the same SELECT by correlated subqueries
over indexed inventory (asserted in tests/catalog/test_api_products.py).
"""

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Case, Count, ExpressionWrapper, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.catalog import bundle_sql
from apps.catalog.models import Edition, EditionStatus, HolderPriority, Product, ProductKind, ServiceSlot
from apps.exhibitors.models import ExhibitorStatus
from marketplace.tenancy import scope_to_user


def _remaining_expression() -> Case:
    """Units still for sale; NULL means unlimited. A bundle has as many as its scarcest component
    allows (apps.catalog.bundle_sql)."""
    now = timezone.now()
    available_editions = (
        Edition.objects.filter(product=OuterRef("pk"), status=EditionStatus.AVAILABLE)
        .order_by()
        .values("product")
        .annotate(n=Count("*"))
        .values("n")
    )
    open_places = (
        ServiceSlot.objects.filter(product=OuterRef("pk"), starts_at__gt=now)
        .order_by()
        .values("product")
        .annotate(n=Sum(F("capacity") - F("taken")))
        .values("n")
    )
    return Case(
        When(kind=ProductKind.COLLECTIBLE, then=Coalesce(Subquery(available_editions, output_field=IntegerField()), Value(0))),
        When(kind=ProductKind.SERVICE, then=Coalesce(Subquery(open_places, output_field=IntegerField()), Value(0))),
        When(kind=ProductKind.BUNDLE, then=bundle_sql.bundle_remaining(now)),
        When(stock_total__isnull=True, then=Value(None, output_field=IntegerField())),
        default=ExpressionWrapper(F("stock_total") - F("stock_taken"), output_field=IntegerField()),
        output_field=IntegerField(),
    )


def _on_sale_q(now: Any) -> Q:
    return (Q(sale_starts_at__isnull=True) | Q(sale_starts_at__lte=now)) & (Q(sale_ends_at__isnull=True) | Q(sale_ends_at__gt=now))


def _priority_holders_expression() -> Case:
    """Ids of the collectibles whose holders get priority (drops); NULL without a priority (the
    subquery then never runs)."""
    through = HolderPriority.holders_of.through
    holders = ArraySubquery(through.objects.filter(holderpriority_id=OuterRef("priority__id")).order_by("product_id")
                            .values("product_id"))
    return Case(When(priority__isnull=False, then=holders), default=None)


def product_list_public() -> QuerySet[Product]:
    """Published products of approved exhibitors, with `remaining` and `on_sale` annotated, and
    the drops' ballot and holder priority joined (`priority_holders` annotated)."""
    now = timezone.now()
    return (
        Product.objects.filter(is_published=True, exhibitor__status=ExhibitorStatus.APPROVED)
        .select_related("exhibitor", "ballot", "priority")
        .annotate(
            remaining=_remaining_expression(),
            # A bundle is on sale while each of its components is too (apps.catalog.bundle_sql).
            on_sale=Case(When(_on_sale_q(now) & Q(bundle_sql.bundle_components_on_sale(now)), then=Value(True)),
                         default=Value(False)),
            components_json=bundle_sql.bundle_components_json(),
            priority_holders=_priority_holders_expression(),
        )
    )


def product_filter_available(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Only products that can be bought now: in their sale window and not sold out."""
    # `on_sale` and `remaining` are annotations of product_list_public (unknown to django-stubs).
    return queryset.filter(on_sale=True).filter(Q(remaining__isnull=True) | Q(remaining__gt=0))  # type: ignore[misc]


def product_filter_unavailable(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """The complement of `product_filter_available`: outside the sale window or sold out.

    `remaining` is NULL for unlimited stock, so `remaining <= 0` is never true for it.
    """
    return queryset.filter(Q(on_sale=False) | Q(remaining__lte=0))


def product_search(queryset: QuerySet[Product], term: str) -> QuerySet[Product]:
    """Case-insensitive match on the slug, English and Chinese titles and descriptions, and the
    exhibitor's English and Chinese names, whatever the request's language."""
    term = term.strip()
    if not term:
        return queryset
    # The `_en` / `_zh_hans` columns by name: modeltranslation rewrites a bare `title` to the
    # active language's column only.
    return queryset.filter(
        Q(slug__icontains=term) | Q(title_en__icontains=term) | Q(title_zh_hans__icontains=term)
        | Q(description_en__icontains=term) | Q(description_zh_hans__icontains=term)
        | Q(exhibitor__name_en__icontains=term) | Q(exhibitor__name_zh_hans__icontains=term)
    )


def slot_list_public(*, product: Product) -> QuerySet[ServiceSlot]:
    """Upcoming slots of a service, with `remaining` computed in SQL."""
    return (
        ServiceSlot.objects.filter(product=product, starts_at__gt=timezone.now())
        .annotate(remaining_places=F("capacity") - F("taken"))
        .order_by("starts_at", "id")
    )


def product_list_for_user(*, user: Any) -> QuerySet[Product]:
    """Products an admin user may manage (operators: all; staff: their exhibitors')."""
    return scope_to_user(Product.objects.select_related("exhibitor"), user, path="exhibitor_id")
