"""Outbox, webhook endpoints and the webhook delivery log in the admin.

Exhibitor staff see and manage their own endpoints and see their own delivery log
(ExhibitorScopedAdmin); the outbox is for operators only. Rows are written by services, so the
log and the outbox are read-only here.
"""

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from apps.notifications import services
from apps.notifications.models import ExhibitorWebhookEndpoint, Notification, WebhookDelivery
from marketplace.admin import ExhibitorScopedAdmin, OperatorOnlyAdminMixin, ReadOnlyAdminMixin


@admin.register(ExhibitorWebhookEndpoint)
class ExhibitorWebhookEndpointAdmin(ExhibitorScopedAdmin):
    exhibitor_path = "exhibitor_id"
    # A URL typed without a scheme means https (Django 6's default; explicit until then).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("url", "exhibitor", "active", "consecutive_410s", "created_at")
    list_filter = ("active",)
    fields = ("exhibitor", "url", "secret", "active", "consecutive_410s")
    readonly_fields = ("consecutive_410s",)

    def save_model(self, request: HttpRequest, obj: ExhibitorWebhookEndpoint, form: Any, change: bool) -> None:
        self.force_exhibitor(request, obj)
        services.webhook_endpoint_save(endpoint=obj)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ExhibitorScopedAdmin):
    exhibitor_path = "exhibitor_id"
    exhibitor_field = None
    list_display = ("event_id", "endpoint", "attempt", "response_status", "success", "duration_ms", "created_at")
    list_filter = ("success",)
    list_select_related = ("endpoint",)
    search_fields = ("event_id",)
    fields = ("event_id", "endpoint", "attempt", "success", "response_status", "duration_ms", "error", "request_body",
              "response_body", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(OperatorOnlyAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("kind", "channel", "recipient_email", "endpoint", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind", "channel")
    search_fields = ("dedupe_key", "recipient_email")
    fields = ("dedupe_key", "kind", "channel", "recipient_user", "recipient_email", "exhibitor", "endpoint", "language",
              "context", "status", "attempts", "last_error", "next_attempt_at", "claimed_at", "sent_at", "created_at")
    readonly_fields = fields
