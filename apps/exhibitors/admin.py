"""Exhibitor admin. Staff edit their own profile; operators approve, suspend and add members."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from unfold.admin import TabularInline
from unfold.decorators import action

from apps.exhibitors import services
from apps.exhibitors.models import Exhibitor, ExhibitorMembership
from marketplace.admin import ExhibitorScopedAdmin, run_for_each
from marketplace.tenancy import is_operator

# Set by operators only: where the exhibitor stands and what the platform takes.
OPERATOR_FIELDS = ("slug", "hall", "booth", "commission_bps")
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
class ExhibitorAdmin(ExhibitorScopedAdmin):
    exhibitor_path = "id"
    exhibitor_field = None
    list_display = ("name", "name_zh", "slug", "hall", "booth", "status", "commission_bps")
    list_filter = ("status", "hall")
    search_fields = ("name", "name_zh", "slug")
    ordering = ("slug",)
    actions = ("approve", "suspend", "start_payout_onboarding")
    fieldsets = (
        ("Profile", {"fields": ("name", "name_zh", "description", "contact_email")}),
        ("At the expo", {"fields": OPERATOR_FIELDS}),
        ("Status", {"fields": STATUS_FIELDS}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_operator(request.user):
            return STATUS_FIELDS
        return OPERATOR_FIELDS + STATUS_FIELDS

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

    @action(description="Approve selected exhibitors", permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Exhibitor]) -> None:
        run_for_each(request, self, queryset, lambda e: services.exhibitor_approve(exhibitor=e, by=request.user),
                     "Approved {count} exhibitor(s).")

    @action(description="Suspend selected exhibitors", permissions=["approve"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Exhibitor]) -> None:
        run_for_each(request, self, queryset, lambda e: services.exhibitor_suspend(exhibitor=e),
                     "Suspended {count} exhibitor(s).")


    @action(description="Start payout onboarding (Stripe Connect Express)", permissions=["approve"])
    def start_payout_onboarding(self, request: HttpRequest, queryset: QuerySet[Exhibitor]) -> None:
        from apps.payments.admin import start_onboarding

        start_onboarding(self, request, list(queryset.values_list("pk", flat=True)))
