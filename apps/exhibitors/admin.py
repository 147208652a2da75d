"""Exhibitor admin. Staff edit their own profile; operators approve, suspend and add members.

The payouts row and the payout onboarding action are added by payments, which may import this
module (apps/payments/admin/payouts.py, `ExhibitorPayoutsAdmin`); nothing here reaches up to payments.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from apps.exhibitors import services
from apps.exhibitors.models import Exhibitor, ExhibitorMembership
from marketplace.admin import (
    AuditTrailMixin,
    ExhibitorScopedAdmin,
    PercentAsBasisPointsField,
    format_bps_percent,
    run_for_each,
)
from marketplace.tenancy import is_operator

# Set by operators only: where the exhibitor stands and what the platform takes.
OPERATOR_FIELDS = ("slug", "hall", "booth", "commission_bps")


def _commission_shown(fields: Any) -> tuple[str, ...]:
    return tuple("commission" if name == "commission_bps" else name for name in fields)


# Changed only through approve/suspend (services), never typed in.
STATUS_FIELDS = ("status", "approved_at", "approved_by")


class MembershipInline(TabularInline):
    """Operators grant admin access here; adding goes through exhibitor_member_add."""

    model = ExhibitorMembership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Existing memberships are shown read-only: there is no role-change service.
        return False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)


@admin.register(Exhibitor)
class ExhibitorAdmin(AuditTrailMixin, ExhibitorScopedAdmin):
    exhibitor_path = "id"
    exhibitor_field = None
    list_display = ("name", "slug", "hall", "booth", "status", "commission")
    list_filter = ("status", "hall")
    search_fields = ("name_en", "name_zh_hans", "slug")
    ordering = ("slug",)
    actions: tuple[str, ...] = ("approve", "suspend")  # payments adds its payouts action
    fieldsets: tuple[Any, ...] = (
        (_("Profile"), {"fields": ("name_en", "name_zh_hans", "description_en", "description_zh_hans", "contact_email")}),
        (_("At the expo"), {"fields": OPERATOR_FIELDS}),
        (_("Status"), {"fields": STATUS_FIELDS}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        trail = super().get_readonly_fields(request, obj)  # the history (AuditTrailMixin)
        if is_operator(request.user):
            return (*STATUS_FIELDS, *trail)
        return (*_commission_shown(OPERATOR_FIELDS), *STATUS_FIELDS, *trail)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if is_operator(request.user):
            return fieldsets
        # Staff read the rate as a percentage ("10 %"), not the stored basis points.
        return [(name, {**options, "fields": _commission_shown(options["fields"])}) for name, options in fieldsets]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "commission_bps":
            # Operators type a percentage (10 or 12.5); it is stored in basis points (1000, 1250).
            return PercentAsBasisPointsField(label=_("Commission (%)"), help_text=_(
                "What the platform keeps of this exhibitor's sales, in percent: 10 means 10 %."))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @display(description=_("Commission"), ordering="commission_bps")
    def commission(self, obj: Exhibitor) -> str:
        return format_bps_percent(obj.commission_bps)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return [MembershipInline] if is_operator(request.user) and obj is not None else []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user) and super().has_delete_permission(request, obj)

    def has_approve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def save_model(self, request: HttpRequest, obj: Exhibitor, form: ModelForm, change: bool) -> None:
        changed = [*form.changed_data, "updated_at"] if change and form.changed_data else None
        services.exhibitor_save(exhibitor=obj, changed_fields=changed)

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: Any, change: bool) -> None:
        if formset.model is not ExhibitorMembership:
            super().save_formset(request, form, formset, change)
            return
        memberships = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.exhibitor_member_remove(membership=membership)
        for membership in memberships:
            if membership.pk is None:
                services.exhibitor_member_add(exhibitor=form.instance, user=membership.user, role=membership.role)

    @action(description=_("Approve selected exhibitors"), permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Exhibitor]) -> None:
        run_for_each(request, self, queryset, lambda e: services.exhibitor_approve(exhibitor=e, by=request.user),
                     _("Approved {count} exhibitor(s)."))

    @action(description=_("Suspend selected exhibitors"), permissions=["approve"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Exhibitor]) -> None:
        run_for_each(request, self, queryset, lambda e: services.exhibitor_suspend(exhibitor=e, by=request.user),
                     _("Suspended {count} exhibitor(s)."))

