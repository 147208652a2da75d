"""The operators' action log in the admin: read-only, operators only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from apps.operations.models import OperatorAction
from marketplace.tenancy import is_operator


@admin.register(OperatorAction)
class OperatorActionAdmin(ModelAdmin):
    list_display = ("created_at", "action", "target_type", "target_id", "actor", "outcome", "detail")
    list_filter = ("action", "outcome")
    search_fields = ("=target_id", "actor__email")
    list_select_related = ("actor",)
    readonly_fields = ("key", "action", "target_type", "target_id", "actor", "outcome", "detail", "created_at")
    fields = readonly_fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
