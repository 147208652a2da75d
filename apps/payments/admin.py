"""Payments in the admin: operators only. Read-only views of money rows; actions call services
(replay a webhook event, start Connect onboarding, re-check an account)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin
from unfold.decorators import action

from apps.payments.models import ConnectAccount, LedgerEntry, Payment, Refund, Transfer, WebhookEvent
from apps.payments.providers import PaymentProviderError
from apps.payments.services.payouts import connect_account_sync, connect_onboarding_start
from apps.payments.services.webhooks import webhook_replay
from marketplace.admin import OperatorOnlyAdminMixin, ReadOnlyAdminMixin
from marketplace.tenancy import is_operator


class OperatorReadOnlyAdmin(OperatorOnlyAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]


@admin.register(Payment)
class PaymentAdmin(OperatorReadOnlyAdmin):
    list_display = ("order", "attempt", "provider", "provider_reference", "status", "amount", "currency",
                    "needs_attention", "created_at")
    list_filter = ("status", "provider", "needs_attention")
    search_fields = ("=provider_reference", "=order__number")


@admin.register(Refund)
class RefundAdmin(OperatorReadOnlyAdmin):
    list_display = ("pk", "order", "kind", "amount", "currency", "status", "provider_reference", "actor", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("=provider_reference", "=order__number")


@admin.register(Transfer)
class TransferAdmin(OperatorReadOnlyAdmin):
    list_display = ("pk", "order", "exhibitor", "gross", "commission", "amount", "status", "provider_reference")
    list_filter = ("status",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(OperatorReadOnlyAdmin):
    list_display = ("created_at", "kind", "order", "exhibitor", "amount", "currency", "key")
    list_filter = ("kind", "currency")
    search_fields = ("=key", "=order__number")


@admin.register(WebhookEvent)
class WebhookEventAdmin(OperatorReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_id", "type", "status", "attempts", "processed_at")
    list_filter = ("status", "provider", "type")
    search_fields = ("=event_id", "=object_reference")
    actions = ("replay",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description="Replay selected events", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        for event in queryset:
            webhook_replay(event_pk=event.pk)
        self.message_user(request, f"Queued {queryset.count()} event(s) for processing.", messages.SUCCESS)


@admin.register(ConnectAccount)
class ConnectAccountAdmin(OperatorReadOnlyAdmin):
    list_display = ("exhibitor", "account_reference", "status", "onboarding_url", "updated_at")
    list_filter = ("status",)
    actions = ("refresh", "new_link")

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description="Re-check with the provider", permissions=["refresh"])
    def refresh(self, request: HttpRequest, queryset: QuerySet[ConnectAccount]) -> None:
        for account in queryset:
            try:
                connect_account_sync(account_id=account.pk)
            except PaymentProviderError as exc:
                self.message_user(request, f"{account}: {exc}", messages.ERROR)

    @action(description="New onboarding link", permissions=["refresh"])
    def new_link(self, request: HttpRequest, queryset: QuerySet[ConnectAccount]) -> None:
        start_onboarding(self, request, [account.exhibitor_id for account in queryset])


def start_onboarding(model_admin: ModelAdmin, request: HttpRequest, exhibitor_ids: list[int]) -> None:
    """Shared by the exhibitor admin action: start onboarding, show each link."""
    for exhibitor_id in exhibitor_ids:
        try:
            account = connect_onboarding_start(exhibitor_id=exhibitor_id, actor=request.user)
        except PaymentProviderError as exc:
            model_admin.message_user(request, f"Exhibitor {exhibitor_id}: {exc}", messages.ERROR)
            continue
        model_admin.message_user(request, f"{account.exhibitor}: send this onboarding link: {account.onboarding_url}",
                                 messages.SUCCESS)
