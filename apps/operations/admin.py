"""The operators' action log in the admin: read-only, operators only."""


from django.contrib import admin
from unfold.admin import ModelAdmin

from apps.operations.models import OperatorAction
from marketplace.admin import OperatorOnlyAdminMixin, ReadOnlyAdminMixin


@admin.register(OperatorAction)
class OperatorActionAdmin(OperatorOnlyAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "action", "target_type", "target_id", "actor", "outcome", "detail")
    list_filter = ("action", "outcome")
    search_fields = ("=target_id", "actor__email")
    list_select_related = ("actor",)
    readonly_fields = ("key", "action", "target_type", "target_id", "actor", "outcome", "detail", "created_at")
    fields = readonly_fields
