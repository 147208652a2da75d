"""Operators' money rows: payments, refunds, the ledger and the webhook inbox (replay)."""


from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from apps.payments.admin.common import (
    OperatorReadOnlyAdmin,
)
from apps.payments.models import (
    LedgerEntry,
    Payment,
    Refund,
    WebhookEvent,
)
from apps.payments.services.webhooks import webhook_replay
from marketplace.admin import (
    AuditTrailMixin,
)
from marketplace.money import format_money
from marketplace.tenancy import is_operator


@admin.register(Payment)
class PaymentAdmin(AuditTrailMixin, OperatorReadOnlyAdmin):
    money_fields = ("amount",)
    list_display = ("order", "attempt", "provider", "provider_reference", "status", "amount_display",
                    "needs_attention", "created_at")
    list_filter = ("status", "provider", "needs_attention")
    search_fields = ("=provider_reference", "=order__number")

    @display(description=_("Amount"), ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)


@admin.register(Refund)
class RefundAdmin(AuditTrailMixin, OperatorReadOnlyAdmin):
    money_fields = ("amount",)
    list_display = ("pk", "order", "kind", "amount_display", "status", "provider_reference", "actor", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("=provider_reference", "=order__number")

    @display(description=_("Amount"), ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.currency)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(OperatorReadOnlyAdmin):
    money_fields = ("amount",)
    list_display = ("created_at", "kind", "order", "exhibitor", "amount_display", "key")
    list_filter = ("kind", "currency")
    search_fields = ("=key", "=order__number")

    @display(description=_("Amount"), ordering="amount")
    def amount_display(self, entry: LedgerEntry) -> str:
        return format_money(entry.amount, entry.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(OperatorReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_id", "type", "status", "attempts", "processed_at")
    list_filter = ("status", "provider", "type")
    search_fields = ("=event_id", "=object_reference")
    actions = ("replay",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description=_("Replay selected events"), permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        for event in queryset:
            webhook_replay(event_pk=event.pk)
        self.message_user(request, _("Queued %(count)d event(s) for processing.") % {"count": queryset.count()},
                          messages.SUCCESS)
