"""Admin building blocks every app reuses: exhibitor scoping and money entry in major units.

Tenancy (DESIGN.md habit 8) is enforced here once for the whole admin:

- change lists, change/delete/history views and inlines read through `scope_to_user`;
- an object outside the acting user's scope answers 404 (Django's admin would redirect to the
  index with "does not exist", which tells a curious exhibitor nothing new but is not what the
  contract asks for);
- foreign-key choices to scoped models are scoped, so choosing another exhibitor's id is a form
  validation error ("Select a valid choice"), never a silent write;
- admin autocompletes answer from the *target* admin's `get_queryset`, which is scoped here too;
- list filters on related exhibitor data use `ScopedRelatedDropdownFilter`, whose choices come
  from the scoped change list rather than the whole table.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.contrib.filters.admin import RelatedDropdownFilter
from unfold.widgets import UnfoldAdminDecimalFieldWidget

from marketplace.errors import DomainError
from marketplace.money import MoneyError, exponent, format_money, to_major, to_minor
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



class ReadOnlyAdminMixin:
    """Rows only services write (orders, payments, logs): the admin shows them and never adds,
    edits or deletes one."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OperatorOnlyAdminMixin:
    """Data for operators only (marketplace.tenancy.is_operator): hidden from exhibitor staff,
    whatever model permissions their group holds. Put it before the ModelAdmin base."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset if is_operator(request.user) else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

class AuditTrailMixin:
    """Adds a read-only "History" to the change page: the object's AuditEvent rows (from, to,
    when, reason; operators also see who and the payload), newest last.

    Tenancy comes with the object: the change page only opens for an object in the acting user's
    scope (ExhibitorScopedMixin answers 404 otherwise), and the trail lists that object's rows only.
    Put it before the ModelAdmin base. One query for the trail (the content type is cached).
    """

    audit_state_field = "status"
    audit_trail_limit = 100
    model: type[Model]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            # The read-only field gets the object only; it carries what the viewer may see.
            obj._audit_trail_for_operator = is_operator(request.user)
        return obj

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return (*fields, "audit_trail") if obj is not None and "audit_trail" not in fields else fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))  # type: ignore[misc]
        return [*fields, "audit_trail"] if obj is not None and "audit_trail" not in fields else fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        if obj is None or any("audit_trail" in options.get("fields", ()) for _name, options in fieldsets):
            return fieldsets
        return [*fieldsets, (_("History"), {"fields": ("audit_trail",)})]

    @admin.display(description=_("History"))
    def audit_trail(self, obj: Any) -> str:
        from django.contrib.contenttypes.models import ContentType

        from marketplace.models import AuditEvent

        if obj is None or obj.pk is None:
            return "-"
        events = list(AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)),
                                                object_id=str(obj.pk))
                      .select_related("actor").order_by("-created_at", "-id")[: self.audit_trail_limit])[::-1]
        if not events:
            return str(_("No recorded changes yet."))
        operator = getattr(obj, "_audit_trail_for_operator", False)
        try:
            labels = dict(self.model._meta.get_field(self.audit_state_field).flatchoices)  # type: ignore[union-attr]
        except FieldDoesNotExist:  # a model without that field shows the raw states
            labels = {}

        def state(value: str) -> str:
            return str(labels.get(value, value)) if value else "—"

        headers = [_("When"), _("Change"), _("From"), _("To"), _("Reason")]
        if operator:
            headers += [_("By"), _("Details")]
        rows = []
        for event in events:
            cells = [date_format(timezone.localtime(event.created_at), "SHORT_DATETIME_FORMAT"), event.name,
                     state(event.from_state), state(event.to_state), event.reason or "—"]
            if operator:
                cells += [getattr(event.actor, "email", None) or str(_("system")) if event.actor_id else str(_("system")),
                          ", ".join(f"{key}={value}" for key, value in sorted(event.payload.items())) or "—"]
            rows.append(cells)
        head = format_html_join("", '<th class="px-2 py-1 text-left font-semibold">{}</th>', ((h,) for h in headers))
        body = format_html_join("", "<tr>{}</tr>", (
            (format_html_join("", '<td class="px-2 py-1 border-t">{}</td>', ((c,) for c in cells)),) for cells in rows))
        return format_html('<table class="audit-trail w-full text-sm"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
                           head, body)


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


def run_for_each(request: HttpRequest, model_admin: ModelAdmin, queryset: QuerySet[Any],
                 call: Callable[[Any], Any], done: str | Promise) -> None:
    """Apply a service call to every selected row; DomainErrors are reported per row.

    `done` may be a lazy translation with a `{count}` placeholder."""
    ok = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as exc:
            model_admin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
        else:
            ok += 1
    if ok:
        model_admin.message_user(request, str(done).format(count=ok), messages.SUCCESS)


class FullCleanFormMixin(forms.ModelForm):
    """Validates the whole instance, as the service will, so its refusals become form errors.

    A ModelForm skips model validation for fields it does not show (a read-only exhibitor, say,
    and with it the unique (exhibitor, slug) constraint); services call `full_clean()` on
    everything, and a ValidationError there would be a 500 in the admin.
    """

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        try:
            self.instance.full_clean()
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)


# --- Money ------------------------------------------------------------------------------------
#
# The admin shows and takes money in major units with its currency ("CNY 19.99"), never the
# stored minor units; commission rates as percentages ("10 %"), never basis points.


def money_display(amount_field: str, currency_field: str = "currency", *, description: Any,
                  ordering: str | None = None) -> Callable[[Any, Any], str]:
    """A list_display / readonly_fields column showing a minor-unit amount as "CNY 19.99".

        total_display = money_display("total", description=_("Total"))

    An empty amount shows as "-" (the admin's empty value).
    """

    def column(model_admin: Any, obj: Any) -> str:
        amount = getattr(obj, amount_field, None) if obj is not None else None
        if amount is None:
            return "-"
        return format_money(amount, str(getattr(obj, currency_field, None) or settings.MARKETPLACE["DEFAULT_CURRENCY"]))

    column.short_description = description  # type: ignore[attr-defined]
    column.admin_order_field = ordering or amount_field  # type: ignore[attr-defined]
    return column


def format_bps_percent(bps: int | None) -> str:
    """Basis points as a percentage for people: 1000 -> "10 %", 1250 -> "12.5 %", None -> "-"."""
    if bps is None:
        return "-"
    percent = (Decimal(bps) / 100).normalize()
    return _("%(percent)s %%") % {"percent": f"{percent:f}"}


class PercentAsBasisPointsField(forms.DecimalField):
    """A rate typed as a percentage (10 or 12.5), cleaned to integer basis points (1000, 1250).

    At most two decimals (a basis point is 0.01 %), from 0 to 100.
    """

    widget = UnfoldAdminDecimalFieldWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 5)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):  # the stored basis points, shown as a percentage
            return f"{(Decimal(value) / 100).normalize():f}"
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        percent = super().to_python(value)
        if percent is None:
            return None
        if not Decimal(0) <= percent <= Decimal(100):
            raise ValidationError(_("Enter a percentage between 0 and 100."), code="range")
        bps = percent * 100
        if bps != bps.to_integral_value():
            raise ValidationError(_("Use at most two decimals, e.g. 12.25."), code="max_decimal_places")
        return int(bps)

    def validate(self, value: Any) -> None:
        forms.Field.validate(self, value)

    def run_validators(self, value: Any) -> None:
        # DecimalField's digit validators expect a Decimal; check the percentage it came from.
        if value not in self.empty_values:
            super().run_validators(Decimal(value) / 100)

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"step": "0.01", "min": "0", "max": "100"})
        return attrs


class MajorUnitsMoneyField(forms.DecimalField):
    """A price typed in major units (19.99). The form mixin converts it to minor units.

    Decimal places are checked per currency by `marketplace.money.to_minor`, so the field itself
    only refuses what is never a price (non-numbers, negatives).
    """

    widget = UnfoldAdminDecimalFieldWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("help_text", _("e.g. 19.99"))
        super().__init__(**kwargs)

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs["step"] = "any"
        return attrs


class MajorUnitsMoneyFormMixin(forms.ModelForm):
    """ModelForm mixin for integer minor-unit columns entered in major units.

    `money_fields` maps each minor-unit model field to the field holding its currency code;
    declare the same names as `MajorUnitsMoneyField`s on the form.
    """

    money_fields: dict[str, str] = {"price": "currency"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, currency_field in self.money_fields.items():
            minor = getattr(self.instance, name, None)
            if name in self.fields and minor is not None and name not in (kwargs.get("initial") or {}):
                self.initial[name] = to_major(minor, self._currency(currency_field))

    def _currency(self, currency_field: str) -> str:
        cleaned = getattr(self, "cleaned_data", {}).get(currency_field)
        return str(cleaned or getattr(self.instance, currency_field, "") or settings.MARKETPLACE["DEFAULT_CURRENCY"]).upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        for name, currency_field in self.money_fields.items():
            amount = cleaned.get(name)
            if name not in self.fields or amount is None:
                continue
            currency = self._currency(currency_field)
            try:
                cleaned[name] = to_minor(amount, currency)
            except MoneyError:
                places = exponent(currency)
                self.add_error(name, _("%(currency)s prices take at most %(places)d decimal places.")
                               % {"currency": currency, "places": places} if places
                               else _("%(currency)s prices are whole numbers.") % {"currency": currency})
        return cleaned
