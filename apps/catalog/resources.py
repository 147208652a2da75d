"""Bulk listing by CSV/XLSX (django-import-export), scoped to the acting user's exhibitors.

A row is identified by (exhibitor slug, product slug), so a slug only ever matches a product of
an exhibitor the user acts for. Staff of one exhibitor may leave the exhibitor column empty or
out (it becomes theirs); a row naming an exhibitor outside the user's scope is refused as a
row error, never created or updated. Prices are in major units, converted per currency, and
every row is written by `product_save` (collectibles get their editions; edition size and
kind stay fixed), so an import is exactly as strict as the admin form.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from apps.catalog import services
from apps.catalog.models import Product
from apps.exhibitors.models import Exhibitor
from marketplace.errors import DomainError
from marketplace.money import MoneyError, to_major, to_minor
from marketplace.tenancy import is_operator, scope_to_user

EXHIBITOR_COLUMN = "exhibitor"


class ScopedExhibitorWidget(ForeignKeyWidget):
    """Exhibitor by slug, looked up only among the exhibitors the user may act for."""

    def __init__(self, user: Any) -> None:
        super().__init__(Exhibitor, field="slug")
        self.user = user

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> QuerySet[Exhibitor]:
        return scope_to_user(Exhibitor.objects.all(), self.user, path="id")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        try:
            return super().clean(value, row, **kwargs)
        except Exhibitor.DoesNotExist as exc:
            raise ValueError(f"Unknown exhibitor {value!r}.") from exc


class MajorUnitsPriceField(fields.Field):
    """`price` column in major units (19.99), stored in minor units in the row's currency."""

    def save(self, instance: Any, row: Any, is_m2m: bool = False, **kwargs: Any) -> None:
        raw = row.get(self.column_name)
        if raw is None or str(raw).strip() == "":
            instance.price = None  # full_clean reports the missing price
            return
        currency = str(row.get("currency") or instance.currency or settings.MARKETPLACE["DEFAULT_CURRENCY"]).upper()
        try:
            instance.price = to_minor(str(raw).strip(), currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from exc

    def export(self, instance: Any, **kwargs: Any) -> str:
        return "" if instance.price is None else str(to_major(instance.price, instance.currency))


class ProductResource(resources.ModelResource):
    exhibitor = fields.Field(attribute="exhibitor", column_name=EXHIBITOR_COLUMN, widget=ForeignKeyWidget(Exhibitor, "slug"))
    price = MajorUnitsPriceField(attribute="price", column_name="price")

    class Meta:
        model = Product
        fields = (
            "exhibitor", "slug", "kind", "title", "title_zh", "description", "description_zh", "price", "currency",
            "is_published", "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "stock_total",
            "download_limit", "pass_valid_from", "pass_valid_until",
        )
        import_id_fields = ("exhibitor", "slug")
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def __init__(self, user: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user = user
        self.fields["exhibitor"].widget = ScopedExhibitorWidget(user)
        scoped = scope_to_user(Exhibitor.objects.all(), user, path="id")
        self._allowed_slugs = None if is_operator(user) else set(scoped.values_list("slug", flat=True))

    def get_queryset(self) -> QuerySet[Product]:
        return scope_to_user(Product.objects.select_related("exhibitor"), self.user, path="exhibitor_id")

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        if EXHIBITOR_COLUMN not in (dataset.headers or []):
            dataset.append_col([""] * len(dataset), header=EXHIBITOR_COLUMN)

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        value = str(row.get(EXHIBITOR_COLUMN) or "").strip()
        if not value and self._allowed_slugs is not None and len(self._allowed_slugs) == 1:
            value = next(iter(self._allowed_slugs))
        if not value:
            raise ValidationError({EXHIBITOR_COLUMN: "Name the exhibitor (its slug)."})
        if self._allowed_slugs is not None and value not in self._allowed_slugs:
            # Same answer for "exists but not yours" and "does not exist".
            raise ValidationError({EXHIBITOR_COLUMN: f"Unknown exhibitor {value!r}."})
        row[EXHIBITOR_COLUMN] = value

    def save_instance(self, instance: Product, is_create: bool, row: Any, **kwargs: Any) -> None:
        """Write through product_save; a domain refusal becomes this row's validation error."""
        self.before_save_instance(instance, row, **kwargs)
        if self._is_using_transactions(kwargs) or not self._is_dry_run(kwargs):
            try:
                services.product_save(product=instance)
            except DomainError as exc:
                raise ValidationError({exc.attr or NON_FIELD_ERRORS: exc.detail}) from exc
        self.after_save_instance(instance, row, **kwargs)
