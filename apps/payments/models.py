"""Payment attempts for orders. One row per attempt; the provider's reference is unique."""

from django.db import models
from django.db.models import Q

from marketplace.models import TimeStampedModel


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created (provider not reached yet)"
    REQUIRES_PAYMENT = "requires_payment", "Waiting for the shopper"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_PAYMENT)


class Payment(TimeStampedModel):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    attempt = models.PositiveIntegerField(help_text="1 for the first attempt of the order, then 2, 3…")
    provider = models.CharField(max_length=30)
    status = models.CharField(max_length=30, choices=PaymentStatus.choices, default=PaymentStatus.CREATED, db_index=True)
    amount = models.PositiveBigIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    client_secret = models.CharField(max_length=255, blank=True)
    provider_reference = models.CharField(max_length=255, null=True, blank=True, help_text="e.g. the PaymentIntent id.")

    class Meta:
        ordering = ["order_id", "-attempt"]
        constraints = [
            models.UniqueConstraint(fields=["order", "attempt"], name="payment_unique_attempt"),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"], condition=Q(provider_reference__isnull=False),
                name="payment_unique_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_reference or '-'} ({self.status})"
