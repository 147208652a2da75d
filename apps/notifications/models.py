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
from django.utils.translation import gettext_lazy as _

from marketplace.netguard import outbound_url_error


class NotificationKind(models.TextChoices):
    ORDER_CONFIRMED = "order_confirmed", _("Order confirmed")
    GOODS_DELIVERED = "goods_delivered", _("Goods delivered")
    REFUND_ISSUED = "refund_issued", _("Refund issued")
    NEW_SALE = "new_sale", _("New sale")
    SALE_REFUNDED = "sale_refunded", _("Sale refunded")
    OPERATOR_ATTENTION = "operator_attention", _("Needs operator attention")
    BALLOT_WON = "ballot_won", _("Ballot won")
    BALLOT_LOST = "ballot_lost", _("Ballot not won")
    GIFT_RECEIVED = "gift_received", _("Gift received")
    GIFT_REVOKED = "gift_revoked", _("Gift withdrawn (refunded)")


SHOPPER_KINDS = frozenset({NotificationKind.ORDER_CONFIRMED, NotificationKind.GOODS_DELIVERED, NotificationKind.REFUND_ISSUED,
                           NotificationKind.BALLOT_WON, NotificationKind.BALLOT_LOST, NotificationKind.GIFT_RECEIVED,
                           NotificationKind.GIFT_REVOKED})
EXHIBITOR_KINDS = frozenset({NotificationKind.NEW_SALE, NotificationKind.SALE_REFUNDED})


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class ExhibitorWebhookEndpoint(models.Model):
    """Where an exhibitor wants its own sales POSTed, signed with `secret` (HMAC-SHA256)."""

    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.CASCADE, related_name="webhook_endpoints",
                                  verbose_name=_("exhibitor"))
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("secret"), max_length=100, help_text=_("Shared secret for the X-Expo-Signature header."))
    active = models.BooleanField(_("active"), default=True)
    consecutive_410s = models.PositiveIntegerField(_("410 answers in a row"), default=0, editable=False,
                                                   help_text=_("Disabled automatically after 3 answers of 410 Gone in a row."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["exhibitor_id", "id"]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        error = outbound_url_error(self.url or "", allow_private=settings.NOTIFICATIONS["WEBHOOK_ALLOW_PRIVATE_HOSTS"])
        if self.url and error:
            raise ValidationError({"url": error})


class Notification(models.Model):
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=NotificationKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    recipient_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                       verbose_name=_("recipient"))
    recipient_email = models.EmailField(_("recipient email"), blank=True)
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                  verbose_name=_("exhibitor"))
    endpoint = models.ForeignKey(ExhibitorWebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="notifications", verbose_name=_("webhook endpoint"))
    language = models.CharField(_("language"), max_length=10, default="en")
    context = models.JSONField(_("context"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
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
        return f"{self.get_kind_display()} → {self.recipient_email or self.endpoint_id}"


class WebhookDelivery(models.Model):
    """One attempt at POSTing a webhook notification: the delivery log exhibitors see."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries",
                                     verbose_name=_("notification"))
    endpoint = models.ForeignKey(ExhibitorWebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 verbose_name=_("webhook endpoint"))
    # Denormalised for exhibitor scoping in the admin.
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.CASCADE, related_name="+", verbose_name=_("exhibitor"))
    attempt = models.PositiveIntegerField(_("attempt"))
    event_id = models.CharField(_("event id"), max_length=200)
    request_body = models.TextField(_("request body"))
    response_status = models.PositiveIntegerField(_("response status"), null=True, blank=True)
    response_body = models.TextField(_("response body"), blank=True)
    error = models.TextField(_("error"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    success = models.BooleanField(_("success"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.event_id} #{self.attempt}: {self.response_status or self.error[:40]}"
