"""Exhibitor scoping for the whole admin (see marketplace.admin): scoped ModelAdmin, inlines,
foreign-key choices, autocompletes and related filters."""

from typing import Any

from django.apps import apps as django_apps
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.filters.admin import RelatedDropdownFilter

from marketplace.errors import DomainError
from marketplace.tenancy import exhibitor_ids_for, is_operator, scope_to_user


def sole_exhibitor_id(request: HttpRequest) -> int | None:
    """The exhibitor a non-operator acts for when they belong to exactly one, else None."""
    if is_operator(request.user):
        return None
    ids = exhibitor_ids_for(request.user)
    return next(iter(ids)) if len(ids) == 1 else None


class ExhibitorScopedMixin:
    """Scopes a ModelAdmin or inline to the exhibitors the acting user may see.

    `exhibitor_path` is the lookup from the admin's model to the exhibitor id ("id" for
    Exhibitor, "exhibitor_id" for Product, "product__exhibitor_id" for a product's rows).
    `exhibitor_field` names the form field holding the exhibitor (None when it comes through a
    product): staff of a single exhibitor get it preset to theirs and forced on save.
    """

    exhibitor_path: str = "exhibitor_id"
    exhibitor_field: str | None = None
    # Extra conditions on foreign-key choices, e.g. {"product": {"kind": "service"}}; applied to
    # the form's choices and to the admin autocomplete answering for that field.
    foreign_key_filters: dict[str, dict[str, Any]] = {}
    admin_site: admin.AdminSite

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_user(super().get_queryset(request), request.user, path=self.exhibitor_path)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scoped = scoped_choices(self.admin_site, db_field.remote_field.model, request)
        if scoped is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scoped.filter(**self.foreign_key_filters.get(db_field.name, {}))
        if db_field.name == self.exhibitor_field and sole_exhibitor_id(request) is not None:
            # One possible value: offer no empty choice, so the field is effectively preset.
            kwargs.setdefault("empty_label", None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


def scoped_choices(site: admin.AdminSite, model: type[Model], request: HttpRequest) -> QuerySet[Any] | None:
    """Rows of `model` the user may pick in a form, if `model`'s admin is exhibitor-scoped."""
    model_admin = site._registry.get(model)
    if not isinstance(model_admin, ExhibitorScopedMixin):
        return None
    queryset = scope_to_user(model._default_manager.all(), request.user, path=model_admin.exhibitor_path)
    ordering = model_admin.get_ordering(request)  # type: ignore[attr-defined]
    return queryset.order_by(*ordering) if ordering else queryset


class ExhibitorScopedAdmin(ExhibitorScopedMixin, ModelAdmin):
    """An unfold ModelAdmin over exhibitor data. Subclasses set `exhibitor_path`.

    Writes go through the app's services: subclasses implement `save_model`/`delete_model`
    with service calls. A DomainError a service raises after the form validated (a race, or a
    rule the form cannot see) becomes an error message on the same page instead of a 500.
    """

    exhibitor_field: str | None = "exhibitor"

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Outside the scope (or absent: the two must look the same) -> 404, not a redirect.
            raise Http404("No such object.")
        return obj

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> tuple[QuerySet[Any], bool]:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = request.resolver_match
        if match is not None and match.url_name == "autocomplete":
            # Answering another admin's autocomplete: apply that field's extra conditions too.
            filters = _autocomplete_source_filters(self.admin_site, request)
            if filters:
                queryset = queryset.filter(**filters)
        return queryset, may_have_duplicates

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        sole = sole_exhibitor_id(request)
        if self.exhibitor_field and sole is not None:
            initial.setdefault(self.exhibitor_field, sole)
        return initial

    def force_exhibitor(self, request: HttpRequest, obj: Any) -> None:
        """Staff of a single exhibitor always write to it, whatever the form carried."""
        sole = sole_exhibitor_id(request)
        if self.exhibitor_field and sole is not None:
            setattr(obj, f"{self.exhibitor_field}_id", sole)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # The admin's own transaction has rolled back; show why and let the user retry.
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _autocomplete_source_filters(site: admin.AdminSite, request: HttpRequest) -> dict[str, Any]:
    try:
        source = django_apps.get_model(request.GET["app_label"], request.GET["model_name"])
    except (KeyError, LookupError, ValueError):
        return {}
    source_admin = site._registry.get(source)
    return getattr(source_admin, "foreign_key_filters", {}).get(request.GET.get("field_name", ""), {})


class ScopedTabularInline(ExhibitorScopedMixin, TabularInline):
    """A tabular inline whose rows and foreign-key choices are exhibitor-scoped."""

    exhibitor_path = "product__exhibitor_id"


class ScopedStackedInline(ExhibitorScopedMixin, StackedInline):
    exhibitor_path = "product__exhibitor_id"


class ScopedRelatedDropdownFilter(RelatedDropdownFilter):
    """Related-object filter listing only objects present in the (scoped) change list.

    Django's RelatedFieldListFilter offers every row of the related table, which would show
    exhibitor A's staff the names of every other exhibitor and product.
    """

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        pk_qs = model_admin.get_queryset(request).distinct().values_list(f"{self.field_path}__pk", flat=True)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, limit_choices_to={"pk__in": pk_qs}, ordering=ordering)
