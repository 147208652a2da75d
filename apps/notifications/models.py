"""The notification outbox and exhibitor webhook endpoints.

A `Notification` row is written in the same transaction as the event it reports (an order paid,
a refund), with a unique `dedupe_key`, and sent after commit by a Celery task. A task that runs
twice, or a sweep that re-enqueues, finds the row already sent and does nothing: one email per
event, one webhook per endpoint per event.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from marketplace.netguard import outbound_url_error


class NotificationKind(models.TextChoices):
    ORDER_CONFIRMED = "order_confirmed", "Order confirmed"
    GOODS_DELIVERED = "goods_delivered", "Goods delivered"
    REFUND_ISSUED = "refund_issued", "Refund issued"
    NEW_SALE = "new_sale", "New sale"
    SALE_REFUNDED = "sale_refunded", "Sale refunded"
    OPERATOR_ATTENTION = "operator_attention", "Needs operator attention"


SHOPPER_KINDS = frozenset({NotificationKind.ORDER_CONFIRMED, NotificationKind.GOODS_DELIVERED, NotificationKind.REFUND_ISSUED})
EXHIBITOR_KINDS = frozenset({NotificationKind.NEW_SALE, NotificationKind.SALE_REFUNDED})


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ExhibitorWebhookEndpoint(models.Model):
    """Where an exhibitor wants its own sales POSTed, signed with `secret` (HMAC-SHA256)."""

    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="Shared secret for the X-Expo-Signature header.")
    active = models.BooleanField(default=True)
    consecutive_410s = models.PositiveIntegerField(default=0, editable=False,
                                                   help_text="Disabled automatically after 3 answers of 410 Gone in a row.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exhibitor_id", "id"]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        error = outbound_url_error(self.url or "", allow_private=settings.NOTIFICATIONS["WEBHOOK_ALLOW_PRIVATE_HOSTS"])
        if self.url and error:
            raise ValidationError({"url": error})


class Notification(models.Model):
    dedupe_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    recipient_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recipient_email = models.EmailField(blank=True)
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(ExhibitorWebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="notifications")
    language = models.CharField(max_length=10, default="en")
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep reads only unsent rows.
            models.Index(fields=["created_at"], condition=Q(status__in=["pending", "sending"]), name="notification_unsent"),
            # The operations console counts and lists the ones given up on.
            models.Index(fields=["created_at"], condition=Q(status="failed"), name="notification_failed"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(channel="webhook") | Q(endpoint__isnull=False), name="notification_webhook_has_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_email or self.endpoint_id}"


class WebhookDelivery(models.Model):
    """One attempt at POSTing a webhook notification: the delivery log exhibitors see."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(ExhibitorWebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # Denormalised for exhibitor scoping in the admin.
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.CASCADE, related_name="+")
    attempt = models.PositiveIntegerField()
    event_id = models.CharField(max_length=200)
    request_body = models.TextField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    success = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} #{self.attempt}: {self.response_status or self.error[:40]}"
