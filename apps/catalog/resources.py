"""Bulk listing by CSV/XLSX (django-import-export), scoped to the acting user's exhibitors.

A row is identified by (exhibitor slug, product slug), so a slug only ever matches a product of
an exhibitor the user acts for. Staff of one exhibitor may leave the exhibitor column empty or
out (it becomes theirs); a row naming an exhibitor outside the user's scope is refused as a
row error, never created or updated. Prices are in major units, converted per currency, and
every row is written by `product_save` (collectibles get their editions; edition size and
kind stay fixed), so an import is exactly as strict as the admin form.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget
from tablib import Dataset

from apps.catalog import services
from apps.catalog.models import Product, ProductKind
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
    # The spreadsheet keeps its columns: `title`/`description` are English, `title_zh`/`description_zh` Chinese
    # (stored in modeltranslation's columns, apps/catalog/translation.py).
    title = fields.Field(attribute="title_en", column_name="title")
    title_zh = fields.Field(attribute="title_zh_hans", column_name="title_zh")
    description = fields.Field(attribute="description_en", column_name="description")
    description_zh = fields.Field(attribute="description_zh_hans", column_name="description_zh")

    class Meta:
        model = Product
        fields = (
            "exhibitor", "slug", "kind", "title", "title_zh", "description", "description_zh", "price", "currency",
            "is_published", "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "stock_total",
            "download_limit", "pass_valid_from", "pass_valid_until", "meeting_url",
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
                # A rule about what the sheet has no column for (files, slots) is the row's own.
                attr = exc.attr if exc.attr and exc.attr in self.fields else NON_FIELD_ERRORS
                raise ValidationError({attr: str(exc.detail)}) from exc
        self.after_save_instance(instance, row, **kwargs)

    def validate_instance(self, instance: Product, import_validation_errors: Any = None, validate_unique: bool = True) -> None:
        """An empty slug is made from the title (unique among the exhibitor's products, including
        rows imported just before this one), as the admin form does."""
        if not instance.slug and instance.exhibitor_id:
            title = getattr(instance, "title_en", "") or instance.title or ""
            instance.slug = services.product_slug_suggest(exhibitor_id=instance.exhibitor_id, title=title, kind=instance.kind)
        super().validate_instance(instance, import_validation_errors, validate_unique)


# --- The template offered on the import page ---------------------------------------------------------

TEMPLATE_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _template_examples(now: datetime) -> list[dict[str, str]]:
    """One row per kind, each importable as it stands (tests/catalog/test_admin_product_import_template.py)."""
    day = timezone.localtime(now + timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
    when = "%Y-%m-%d %H:%M:%S"
    return [
        {"slug": "lantern-print", "kind": ProductKind.COLLECTIBLE, "title": "Lantern festival print", "title_zh": "灯会版画",
         "description": "A numbered digital print with a signed certificate.", "description_zh": "带签名证书的限量数字版画。",
         "price": "88.00", "is_published": "TRUE", "per_customer_limit": "2", "edition_size": "100"},
        {"slug": "skin-consultation", "kind": ProductKind.SERVICE, "title": "Online skin consultation", "title_zh": "在线护肤咨询",
         "description": "Thirty minutes with our skincare adviser. Add the time slots in the admin, then publish.",
         "description_zh": "与护肤顾问线上交流三十分钟。请在后台添加时间段后再发布。",
         "price": "199.00", "is_published": "FALSE", "meeting_url": "https://meet.example.com/your-room"},
        {"slug": "brush-pack", "kind": ProductKind.DOWNLOAD, "title": "Ink brush pack", "title_zh": "水墨笔刷包",
         "description": "Forty brushes. Upload the file in the admin, then publish.",
         "description_zh": "四十款笔刷。请在后台上传文件后再发布。",
         "price": "29.90", "is_published": "FALSE", "download_limit": "5"},
        {"slug": "booth-pass", "kind": ProductKind.PASS, "title": "VIP booth experience", "title_zh": "展位贵宾体验",
         "description": "Skip the queue at our booth.", "description_zh": "展位免排队。",
         "price": "59.00", "is_published": "TRUE", "stock_total": "200",
         "pass_valid_from": day.strftime(when), "pass_valid_until": day.replace(hour=18).strftime(when)},
    ]


def import_template(*, exhibitor_slug: str, currency: str, now: datetime | None = None) -> Dataset:
    """The import sheet: the columns the import reads, and one example row per kind."""
    headers = [field.column_name for field in ProductResource().get_import_fields()]
    dataset = Dataset(headers=headers, title="products")
    for example in _template_examples(now or timezone.now()):
        values: dict[str, str] = {EXHIBITOR_COLUMN: exhibitor_slug, "currency": currency, **example}
        dataset.append([values.get(str(header), "") for header in headers])
    return dataset
