"""Catalog admin: products of every kind, their inventory, and bulk listing by CSV/XLSX.

Every admin here is exhibitor-scoped (marketplace.admin); every write goes through
apps.catalog.services.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display

import apps.catalog.admin_ballots  # noqa: F401  # registers the drops' admins (ballots, holder priority)
from apps.catalog import images, services
from apps.catalog.admin_bundles import BundleComponentFormSet, BundleComponentInline, bundle_formset_save
from apps.catalog.forms import DownloadInlineFormSet, KindInlineFormSet, ProductAdminForm, ServiceSlotFormSet
from apps.catalog.models import DownloadFile, Edition, LicenceKey, Product, ProductKind, ServiceSlot
from apps.catalog.resources import TEMPLATE_FORMATS, ProductResource, import_template
from apps.exhibitors.models import Exhibitor
from marketplace.admin import (
    ExhibitorScopedAdmin,
    ScopedRelatedDropdownFilter,
    ScopedTabularInline,
    run_for_each,
    sole_exhibitor_id,
)
from marketplace.errors import DomainError
from marketplace.money import format_money

# The form's sections. `kinds` lists the kinds a section belongs to (None: every kind): the change
# page shows only its product's sections; the add page shows all of them, each marked with CSS
# classes the kind switcher (static/catalog/product_kind.js) reads to show only the chosen kind's,
# so without JavaScript every field is still there.
_SECTIONS: dict[str, tuple[Any, dict[str, Any], tuple[str, ...] | None]] = {
    "listing": (_("Listing"), {"fields": ("exhibitor", "kind", "title_en", "slug", "title_zh_hans", "description_en",
                                          "description_zh_hans", "image")}, None),
    "sale": (_("Price and sale"), {"fields": ("price", "currency", "is_published", "sale_starts_at", "sale_ends_at",
                                              "per_customer_limit")}, None),
    "collectible": (_("Collectible editions"), {
        "fields": ("edition_size",),
        "description": _("The numbered editions #1 to N are created with the product; N cannot change later."),
    }, (ProductKind.COLLECTIBLE,)),
    "service": (_("Consultation"), {
        "fields": ("meeting_url",),
        "description": _("Where shoppers meet you during their time slot. Add the time slots below."),
    }, (ProductKind.SERVICE,)),
    "stock": (_("Stock"), {"fields": ("stock_total", "stock_taken"),
                           "description": _("How many can be sold. Leave the total empty for no limit.")},
              (ProductKind.DOWNLOAD, ProductKind.PASS)),
    "pass": (_("Pass validity"), {"fields": ("pass_valid_from", "pass_valid_until"),
                                  "description": _("When the pass lets its holder in. Needed before the pass is published.")},
             (ProductKind.PASS,)),
    "download": (_("Download delivery"), {
        "fields": ("download_limit", "licence_keys_bulk"),
        "description": _("What buyers receive: the files below and/or a licence key each."),
    }, (ProductKind.DOWNLOAD,)),
}


def _kind_classes(kinds: tuple[str, ...] | None) -> list[str]:
    return [] if kinds is None else ["kind-only", *(f"kind-{kind}" for kind in kinds)]


def _save_formset_through(formset: Any, save: Callable[[Any], Any], delete: Callable[[Any], Any]) -> None:
    instances = formset.save(commit=False)
    for obj in formset.deleted_objects:
        delete(obj)
    for obj in instances:
        save(obj)


# Meeting links typed without a scheme are https:// ones (unfold's widgets kept).
_FORMFIELD_OVERRIDES = {
    **ExhibitorScopedAdmin.formfield_overrides,
    models.URLField: {**ExhibitorScopedAdmin.formfield_overrides.get(models.URLField, {}), "assume_scheme": "https"},
}


class ServiceSlotInline(ScopedTabularInline):
    model = ServiceSlot
    formfield_overrides = _FORMFIELD_OVERRIDES
    formset = ServiceSlotFormSet
    fields = ("starts_at", "ends_at", "capacity", "taken", "meeting_url")
    readonly_fields = ("taken",)
    extra = 0
    per_page = 20
    classes = _kind_classes((ProductKind.SERVICE,))
    verbose_name_plural = _("Time slots")


class DownloadFileInline(ScopedTabularInline):
    model = DownloadFile
    formset = DownloadInlineFormSet
    fields = ("name", "file", "size")
    readonly_fields = ("size",)
    extra = 0
    classes = _kind_classes((ProductKind.DOWNLOAD,))
    verbose_name_plural = _("Files")


class LicenceKeyInline(ScopedTabularInline):
    model = LicenceKey
    formset = DownloadInlineFormSet
    fields = ("key", "status")
    readonly_fields = ("status",)
    extra = 0
    per_page = 20
    classes = _kind_classes((ProductKind.DOWNLOAD,))
    verbose_name_plural = _("Licence keys")


@admin.register(Product)
class ProductAdmin(ExhibitorScopedAdmin, ImportExportModelAdmin):
    form = ProductAdminForm
    formfield_overrides = _FORMFIELD_OVERRIDES
    exhibitor_path = "exhibitor_id"
    list_display = ("thumbnail", "title", "exhibitor", "kind", "price_display", "is_published", "sale_starts_at", "created_at")
    list_display_links = ("thumbnail", "title")
    list_filter = (("kind", ChoicesDropdownFilter), "is_published", ("exhibitor", ScopedRelatedDropdownFilter))
    list_select_related = ("exhibitor",)
    search_fields = ("title_en", "title_zh_hans", "slug", "exhibitor__name_en", "exhibitor__name_zh_hans")
    autocomplete_fields = ("exhibitor",)
    ordering = ("-created_at",)
    actions = ("publish", "unpublish")
    resource_classes = [ProductResource]
    import_form_class = ImportForm
    export_form_class = ExportForm
    import_template_name = "admin/catalog/product/import.html"

    class Media:
        js = ("catalog/product_kind.js",)

    @display(description=_("Price"), ordering="price")
    def price_display(self, obj: Product) -> str:
        return format_money(obj.price, obj.currency)

    @display(description=_("Picture"))
    def thumbnail(self, obj: Product) -> str:
        urls = images.image_urls(obj.image.name, absolute=False)
        if urls is None:
            return "-"
        return format_html('<img src="{}" alt="" width="48" height="48" class="rounded" loading="lazy">', urls["thumb_200"])

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict[str, tuple[str, ...]]:
        # The slug follows the English title as it is typed (modeltranslation names it title_en).
        names = {field.name for field in Product._meta.get_fields()}
        return {"slug": ("title_en" if "title_en" in names else "title",)}

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = []
        for name, (title, options, kinds) in _SECTIONS.items():
            if obj is not None and kinds is not None and obj.kind not in kinds:
                continue
            options = {**options, "classes": _kind_classes(kinds) if obj is None else []}
            if name == "stock" and obj is None:
                options["fields"] = ("stock_total",)  # nothing is taken before the product exists
            fieldsets.append((title, options))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("stock_taken",)
        # "#n of N" is printed on certificates and inventory is per kind: both fixed once created.
        return ("exhibitor", "kind", "edition_size", "stock_taken")

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            # Every kind's rows; the kind switcher shows the chosen kind's (KindInlineFormSet
            # ignores the others').
            return [ServiceSlotInline, DownloadFileInline, LicenceKeyInline, BundleComponentInline]
        if obj.kind == ProductKind.SERVICE:
            return [ServiceSlotInline]
        if obj.kind == ProductKind.DOWNLOAD:
            return [DownloadFileInline, LicenceKeyInline]
        if obj.kind == ProductKind.BUNDLE:
            return [BundleComponentInline]
        return []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A bundle holding another exhibitor's goods is the operators' to change (admin_bundles).
        if obj is not None and obj.kind == ProductKind.BUNDLE and not services.bundle_editable_by(user=request.user, bundle=obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.kind == ProductKind.BUNDLE and not services.bundle_editable_by(user=request.user, bundle=obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Product, form: ModelForm, change: bool) -> None:
        if not change:
            self.force_exhibitor(request, obj)
        # Going on sale waits for the inlines (files, keys, slots) this same page adds:
        # the product is saved as a draft and save_related publishes it once they are saved.
        was_published = change and "is_published" not in form.changed_data and obj.is_published
        form.publish_after_save = obj.is_published and not was_published  # type: ignore[attr-defined]
        if form.publish_after_save:  # type: ignore[attr-defined]
            obj.is_published = False
        services.product_save(product=obj)
        keys = form.cleaned_data.get("licence_keys_bulk")
        if keys:
            added = services.licence_keys_add(product=obj, keys=keys)
            self.message_user(request, _("Added %(added)d licence key(s); %(skipped)d were already in the pool.")
                              % {"added": added, "skipped": len(keys) - added})

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if getattr(form, "publish_after_save", False):
            try:
                services.product_set_published(product=form.instance, published=True, actor=request.user)
            except DomainError as exc:
                self.message_user(request, _("Saved as a draft, not published yet: %(reason)s") % {"reason": exc.detail},
                                  messages.WARNING)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A product's editions, slots, files and keys go with it; staff hold no delete permission
        # on editions (they must never delete one on its own), and product_delete decides
        # whether anything was sold, so the cascade needs no per-model permission here.
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        services.product_delete(product=obj)

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: Any, change: bool) -> None:
        if isinstance(formset, KindInlineFormSet) and formset.ignored():
            # Another kind's rows on the add page: not this product's; nothing to log either.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        if isinstance(formset, BundleComponentFormSet):
            bundle_formset_save(request, formset)
        elif formset.model is ServiceSlot:
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

    # A bundle with another exhibitor's goods is listed to its lead exhibitor's staff; the service
    # refuses them its publishing (`actor`), as the change form is read-only to them.
    @action(description=_("Publish selected products"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        run_for_each(request, self, queryset,
                     lambda p: services.product_set_published(product=p, published=True, actor=request.user),
                     _("Published {count} product(s)."))

    @action(description=_("Unpublish selected products"), permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        run_for_each(request, self, queryset,
                     lambda p: services.product_set_published(product=p, published=False, actor=request.user),
                     _("Unpublished {count} product(s)."))

    # Import/export: the resource scopes lookups and the exhibitor column to the acting user.
    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_resource_kwargs(request, *args, **kwargs), "user": request.user}

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_urls(self) -> list[Any]:
        template = path("import/template.<str:fmt>", self.admin_site.admin_view(self.import_template_view),
                        name="catalog_product_import_template")
        return [template, *super().get_urls()]

    def import_template_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        """The import sheet (CSV or XLSX): its columns and one example row per kind."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        if fmt not in TEMPLATE_FORMATS:
            raise Http404
        sole = sole_exhibitor_id(request)
        exhibitor_slug = Exhibitor.objects.filter(pk=sole).values_list("slug", flat=True).first() if sole else None
        dataset = import_template(exhibitor_slug=exhibitor_slug or "your-exhibitor-slug",
                                  currency=str(settings.MARKETPLACE["DEFAULT_CURRENCY"]))
        content = dataset.export(fmt)
        if fmt == "csv":
            content = "\ufeff" + content  # a BOM, so Excel reads the Chinese columns as UTF-8
        response = HttpResponse(content, content_type=TEMPLATE_FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="products-import-template.{fmt}"'
        return response


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
    formfield_overrides = _FORMFIELD_OVERRIDES
    list_display = ("product", "starts_at", "ends_at", "capacity", "taken")
    list_filter = (("product", ScopedRelatedDropdownFilter), "starts_at")
    search_fields = ("product__title",)
    fields = ("product", "starts_at", "ends_at", "capacity", "taken", "meeting_url")
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
