"""Entitlements in the admin: read-only, scoped to the acting user's exhibitors."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.fulfilment.models import Entitlement
from marketplace.admin import AuditTrailMixin, ExhibitorScopedAdmin


@admin.register(Entitlement)
class EntitlementAdmin(AuditTrailMixin, ExhibitorScopedAdmin):
    exhibitor_path = "exhibitor_id"
    exhibitor_field = None
    list_display = ("id", "kind", "status", "product", "serial", "user", "created_at", "redeemed_at", "revoked_at")
    list_filter = ("kind", "status")
    list_select_related = ("product", "user")
    search_fields = ("=certificate_code", "=order__number", "user__email")
    fields = ("kind", "status", "product", "exhibitor", "user", "order", "order_line", "unit_index", "serial", "edition_size",
              "certificate_code", "slot", "access_url", "downloads_left", "licence_key", "valid_from", "valid_until",
              "redeemed_at", "redeemed_by", "created_at", "revoked_at", "revoke_reason", "acquired_at", "transferred_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
