"""The operations admin: the operators' action log (read-only, operators only), and the surfaces
of lower apps that act through higher ones (orders: refunds through payments, fulfilment retries).
"""


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


# Registered here, not in apps/orders: the order admin acts through payments and fulfilment.
from apps.operations.admin import orders  # noqa: E402, F401
