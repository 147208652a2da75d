"""User and group admin, email-based, for operators only.

Exhibitor staff log into the admin with their email (USERNAME_FIELD) but never see accounts:
who acts for an exhibitor is managed through memberships on the exhibitor (operators).
"""

from typing import Any

from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from apps.accounts import services as account_services
from apps.accounts.models import EligibilityGroup, EligibilityMembership, User
from marketplace.tenancy import is_operator


class OperatorsOnlyMixin:
    """Every permission of this admin requires an operator (superuser or operators group)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)
        field_classes: dict[str, Any] = {}

    def clean_email(self) -> str:
        # Stored lower-case, as the manager does, so logins match whatever case is typed.
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict[str, Any] = {}

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()


@admin.register(User)
class UserAdmin(OperatorsOnlyMixin, BaseUserAdmin, ModelAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    change_password_form = AdminPasswordChangeForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_superuser", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(OperatorsOnlyMixin, BaseGroupAdmin, ModelAdmin):
    pass


# The admin login lockout (django-axes, apps/accounts/loginguard.py). Operators see who is locked
# out and unlock them by deleting the attempt ("Delete selected" or the row's delete button); the
# success log is read-only. Exhibitor staff reach neither (OperatorsOnlyMixin).


class LockedOutFilter(admin.SimpleListFilter):
    title = _("locked out")
    parameter_name = "locked_out"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        limit = settings.AXES_FAILURE_LIMIT
        if self.value() == "yes":
            return queryset.filter(failures_since_start__gte=limit)
        if self.value() == "no":
            return queryset.filter(failures_since_start__lt=limit)
        return queryset


@admin.register(AccessAttempt)
class AccessAttemptAdmin(OperatorsOnlyMixin, ModelAdmin):
    list_display = ("username", "ip_address", "failures_since_start", "attempt_time", "path_info")
    list_filter = (LockedOutFilter, "attempt_time")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    ordering = ("-attempt_time",)
    readonly_fields = ("username", "ip_address", "user_agent", "path_info", "http_accept", "failures_since_start",
                       "attempt_time", "get_data", "post_data")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(OperatorsOnlyMixin, ModelAdmin):
    list_display = ("username", "ip_address", "attempt_time", "logout_time", "path_info")
    list_filter = ("attempt_time", "logout_time")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    ordering = ("-attempt_time",)
    readonly_fields = ("username", "ip_address", "user_agent", "path_info", "http_accept", "attempt_time",
                       "logout_time")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Eligibility groups (API.md "Groups (eligibility)"): operators verify a shopper's membership;
# every verification and revocation goes through the services (audited), never a bare save.


@admin.register(EligibilityGroup)
class EligibilityGroupAdmin(OperatorsOnlyMixin, ModelAdmin):
    list_display = ("slug", "name")
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(EligibilityMembership)
class EligibilityMembershipAdmin(OperatorsOnlyMixin, ModelAdmin):
    list_display = ("user", "group", "verified_at", "valid_until", "verified_by")
    list_filter = ("group",)
    search_fields = ("user__email", "note")
    autocomplete_fields = ("user",)
    fields = ("user", "group", "valid_until", "note", "verified_by", "verified_at")
    readonly_fields = ("verified_by", "verified_at")
    ordering = ("group", "user__email")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Who and which group are the membership's identity: change the validity or note only.
        return (*self.readonly_fields, "user", "group") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = account_services.eligibility_verify(user=obj.user, group=obj.group, actor=request.user,
                                                    valid_until=obj.valid_until, note=obj.note)
        obj.pk = saved.pk
        obj.verified_by, obj.verified_at = saved.verified_by, saved.verified_at

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        account_services.eligibility_revoke(membership_id=obj.pk, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for membership_id in list(queryset.values_list("pk", flat=True)):
            account_services.eligibility_revoke(membership_id=membership_id, actor=request.user)
