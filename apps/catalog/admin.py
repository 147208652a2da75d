"""Catalog admin: products of every kind, their inventory, and bulk listing by CSV/XLSX.

Every admin here is exhibitor-scoped (marketplace.admin); every write goes through
apps.catalog.services.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from import_export.admin import ImportExportModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display

from apps.catalog import services
from apps.catalog.forms import ProductAdminForm, ServiceSlotFormSet
from apps.catalog.models import DownloadFile, Edition, LicenceKey, Product, ProductKind, ServiceSlot
from apps.catalog.resources import ProductResource
from marketplace.admin import (
    ExhibitorScopedAdmin,
    ScopedRelatedDropdownFilter,
    ScopedTabularInline,
    run_for_each,
)
from marketplace.errors import DomainError
from marketplace.money import format_money

_SECTIONS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "listing": ("Listing", {"fields": ("exhibitor", "kind", "slug", "title", "title_zh", "description", "description_zh")}),
    "sale": ("Price and sale", {"fields": ("price", "currency", "is_published", "sale_starts_at", "sale_ends_at",
                                           "per_customer_limit")}),
    "collectible": ("Collectible editions", {
        "fields": ("edition_size",),
        "description": "Collectibles only. The editions #1..N are created with the product; N cannot change later.",
    }),
    "stock": ("Stock", {"fields": ("stock_total", "stock_taken"),
                        "description": "Downloads and passes. Empty total: unlimited."}),
    "pass": ("Pass validity", {"fields": ("pass_valid_from", "pass_valid_until"), "description": "Passes only."}),
    "download": ("Download delivery", {"fields": ("download_limit", "licence_keys_bulk"), "description": "Downloads only."}),
}
_SECTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    ProductKind.COLLECTIBLE: ("listing", "sale", "collectible"),
    ProductKind.SERVICE: ("listing", "sale"),
    ProductKind.DOWNLOAD: ("listing", "sale", "stock", "download"),
    ProductKind.PASS: ("listing", "sale", "stock", "pass"),
}


def _save_formset_through(formset: Any, save: Callable[[Any], Any], delete: Callable[[Any], Any]) -> None:
    instances = formset.save(commit=False)
    for obj in formset.deleted_objects:
        delete(obj)
    for obj in instances:
        save(obj)


class ServiceSlotInline(ScopedTabularInline):
    model = ServiceSlot
    formset = ServiceSlotFormSet
    fields = ("starts_at", "ends_at", "capacity", "taken")
    readonly_fields = ("taken",)
    extra = 0
    per_page = 20


class DownloadFileInline(ScopedTabularInline):
    model = DownloadFile
    fields = ("name", "file", "size")
    readonly_fields = ("size",)
    extra = 0


class LicenceKeyInline(ScopedTabularInline):
    model = LicenceKey
    fields = ("key", "status")
    readonly_fields = ("status",)
    extra = 0
    per_page = 20


@admin.register(Product)
class ProductAdmin(ExhibitorScopedAdmin, ImportExportModelAdmin):
    form = ProductAdminForm
    exhibitor_path = "exhibitor_id"
    list_display = ("title", "exhibitor", "kind", "price_display", "is_published", "sale_starts_at", "created_at")
    list_filter = (("kind", ChoicesDropdownFilter), "is_published", ("exhibitor", ScopedRelatedDropdownFilter))
    list_select_related = ("exhibitor",)
    search_fields = ("title", "title_zh", "slug", "exhibitor__name")
    autocomplete_fields = ("exhibitor",)
    ordering = ("-created_at",)
    actions = ("publish", "unpublish")
    resource_classes = [ProductResource]
    import_form_class = ImportForm
    export_form_class = ExportForm

    @display(description="Price", ordering="price")
    def price_display(self, obj: Product) -> str:
        return format_money(obj.price, obj.currency)

    def _kind(self, request: HttpRequest, obj: Product | None) -> str | None:
        kind = obj.kind if obj is not None else request.POST.get("kind") or request.GET.get("kind")
        return kind if kind in ProductKind.values else None

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        kind = self._kind(request, obj)
        names = _SECTIONS_BY_KIND[kind] if kind else tuple(_SECTIONS)
        return [_SECTIONS[name] for name in names]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("stock_taken",)
        # "#n of N" is printed on certificates and inventory is per kind: both fixed once created.
        return ("exhibitor", "kind", "edition_size", "stock_taken")

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        if obj.kind == ProductKind.SERVICE:
            return [ServiceSlotInline]
        if obj.kind == ProductKind.DOWNLOAD:
            return [DownloadFileInline, LicenceKeyInline]
        return []

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm, change: bool) -> None:
        if not change:
            self.force_exhibitor(request, obj)
        services.product_save(product=obj)
        keys = form.cleaned_data.get("licence_keys_bulk")
        if keys:
            added = services.licence_keys_add(product=obj, keys=keys)
            self.message_user(request, f"Added {added} licence key(s); {len(keys) - added} were already in the pool.")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A product's editions, slots, files and keys go with it; staff hold no delete permission
        # on editions (they must never delete one on its own), and product_delete decides
        # whether anything was sold, so the cascade needs no per-model permission here.
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        services.product_delete(product=obj)

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: Any, change: bool) -> None:
        if formset.model is ServiceSlot:
            _save_formset_through(formset, lambda s: services.slot_save(slot=s), lambda s: services.slot_delete(slot=s))
        elif formset.model is DownloadFile:
            _save_formset_through(
                formset,
                lambda f: services.download_file_save(download_file=f),
                lambda f: services.download_file_delete(download_file=f),
            )
        elif formset.model is LicenceKey:
            _save_formset_through(
                formset,
                lambda k: services.licence_key_save(licence_key=k),
                lambda k: services.licence_key_delete(licence_key=k),
            )
        else:
            super().save_formset(request, form, formset, change)

    @action(description="Publish selected products", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        run_for_each(request, self, queryset, lambda p: services.product_set_published(product=p, published=True),
                     "Published {count} product(s).")

    @action(description="Unpublish selected products", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        run_for_each(request, self, queryset, lambda p: services.product_set_published(product=p, published=False),
                     "Unpublished {count} product(s).")

    # Import/export: the resource scopes lookups and the exhibitor column to the acting user.
    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_resource_kwargs(request, *args, **kwargs), "user": request.user}

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


@admin.register(Edition)
class EditionAdmin(ExhibitorScopedAdmin):
    """Numbered editions, read-only: they are created with the product and change by sales."""

    exhibitor_path = "product__exhibitor_id"
    exhibitor_field = None
    list_display = ("product", "serial", "status", "status_changed_at")
    list_filter = ("status", ("product", ScopedRelatedDropdownFilter), ("product__exhibitor", ScopedRelatedDropdownFilter))
    list_select_related = ("product",)
    search_fields = ("product__title", "=serial")
    fields = ("product", "serial", "status", "status_changed_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ProductRowAdmin(ExhibitorScopedAdmin):
    """Rows that belong to one product (slots, files, keys): scoped through the product."""

    exhibitor_path = "product__exhibitor_id"
    exhibitor_field = None
    autocomplete_fields = ("product",)
    list_select_related = ("product",)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            try:
                self.delete_model(request, obj)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)


@admin.register(ServiceSlot)
class ServiceSlotAdmin(_ProductRowAdmin):
    foreign_key_filters = {"product": {"kind": ProductKind.SERVICE}}
    list_display = ("product", "starts_at", "ends_at", "capacity", "taken")
    list_filter = (("product", ScopedRelatedDropdownFilter), "starts_at")
    search_fields = ("product__title",)
    fields = ("product", "starts_at", "ends_at", "capacity", "taken")
    readonly_fields = ("taken",)
    date_hierarchy = "starts_at"

    def save_model(self, request: HttpRequest, obj: ServiceSlot, form: ModelForm, change: bool) -> None:
        services.slot_save(slot=obj)

    def delete_model(self, request: HttpRequest, obj: ServiceSlot) -> None:
        services.slot_delete(slot=obj)


@admin.register(DownloadFile)
class DownloadFileAdmin(_ProductRowAdmin):
    foreign_key_filters = {"product": {"kind": ProductKind.DOWNLOAD}}
    list_display = ("name", "product", "size", "created_at")
    list_filter = (("product", ScopedRelatedDropdownFilter),)
    search_fields = ("name", "product__title")
    fields = ("product", "name", "file", "size")
    readonly_fields = ("size",)

    def save_model(self, request: HttpRequest, obj: DownloadFile, form: ModelForm, change: bool) -> None:
        services.download_file_save(download_file=obj)

    def delete_model(self, request: HttpRequest, obj: DownloadFile) -> None:
        services.download_file_delete(download_file=obj)


@admin.register(LicenceKey)
class LicenceKeyAdmin(_ProductRowAdmin):
    foreign_key_filters = {"product": {"kind": ProductKind.DOWNLOAD}}
    list_display = ("__str__", "product", "status", "created_at")
    list_filter = ("status", ("product", ScopedRelatedDropdownFilter))
    search_fields = ("product__title", "=key")
    fields = ("product", "key", "status")
    readonly_fields = ("status",)

    def save_model(self, request: HttpRequest, obj: LicenceKey, form: ModelForm, change: bool) -> None:
        services.licence_key_save(licence_key=obj)

    def delete_model(self, request: HttpRequest, obj: LicenceKey) -> None:
        services.licence_key_delete(licence_key=obj)
