"""Money in and out: payment attempts, refunds, exhibitor payouts, the ledger and the webhook inbox.

Every row that mirrors a provider object carries the provider's id under a unique constraint, and
every outgoing provider call is keyed by one of our row ids (the idempotency key), so a retry can
never create a second charge, refund or transfer. Amounts are integer minor units plus currency.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models import TimeStampedModel


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created (provider not reached yet)"
    REQUIRES_PAYMENT = "requires_payment", "Waiting for the shopper"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_PAYMENT)
# Not final at the provider: a reconciliation pass re-reads these.
UNSETTLED_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING)


class Payment(TimeStampedModel):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    attempt = models.PositiveIntegerField(help_text="1 for the first attempt of the order, then 2, 3…")
    provider = models.CharField(max_length=30)
    status = models.CharField(max_length=30, choices=PaymentStatus.choices, default=PaymentStatus.CREATED, db_index=True)
    amount = models.PositiveBigIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    client_secret = models.CharField(max_length=255, blank=True)
    provider_reference = models.CharField(max_length=255, null=True, blank=True, help_text="e.g. the PaymentIntent id.")
    charge_reference = models.CharField(max_length=255, blank=True, help_text="The charge: source of the transfers.")
    succeeded_at = models.DateTimeField(null=True, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    # Raised to operators: money we hold that bought nothing (auto-refunded) or a mismatch.
    needs_attention = models.BooleanField(default=False, db_index=True)
    attention_reason = models.CharField(max_length=500, blank=True)

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


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class WebhookEvent(models.Model):
    """The inbox: every accepted delivery, stored raw before it is processed (one row per event id)."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    object_reference = models.CharField(max_length=255, blank=True, db_index=True,
                                        help_text="Id of the object the event is about (e.g. the PaymentIntent).")
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_unique_event")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.type} ({self.status})"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RefundKind(models.TextChoices):
    ORDER = "order", "Refund of the order (lines or amount)"
    # The payment bought nothing (a second success for a paid order, or inventory gone after
    # expiry): refunded whole, outside the order's own refunds and the exhibitors' payouts.
    VOID = "void", "Payment that bought nothing"


class Refund(TimeStampedModel):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    kind = models.CharField(max_length=10, choices=RefundKind.choices, default=RefundKind.ORDER)
    amount = models.PositiveBigIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=RefundStatus.choices, default=RefundStatus.PENDING, db_index=True)
    provider_reference = models.CharField(max_length=255, null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    failure_message = models.CharField(max_length=500, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(fields=["payment"], condition=Q(kind="void"), name="refund_one_void_per_payment"),
            models.UniqueConstraint(fields=["provider_reference"], condition=Q(provider_reference__isnull=False),
                                    name="refund_unique_reference"),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} {self.amount} {self.currency} ({self.status})"


class RefundLine(models.Model):
    """A whole order line refunded; the unique line makes a double refund of a line impossible.
    Rows of a refund the provider refused are deleted, so the line can be refunded again."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="refund_lines")
    line = models.OneToOneField("orders.OrderLine", on_delete=models.PROTECT, related_name="refund_line")

    def __str__(self) -> str:
        return f"{self.refund_id}: line {self.line_id}"


class RefundAllocation(models.Model):
    """Which exhibitor's sales a refund takes back (drives the transfer reversals)."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="allocations")
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="+")
    amount = models.PositiveBigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["refund", "exhibitor"], name="refundalloc_unique")]

    def __str__(self) -> str:
        return f"{self.refund_id}/{self.exhibitor_id}: {self.amount}"


class ConnectStatus(models.TextChoices):
    PENDING = "pending", "Onboarding started"
    ENABLED = "enabled", "Payouts enabled"
    RESTRICTED = "restricted", "Restricted"


class ConnectAccount(TimeStampedModel):
    """An exhibitor's Stripe Connect Express account (or its simulated stand-in)."""

    exhibitor = models.OneToOneField("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="connect_account")
    provider = models.CharField(max_length=30)
    account_reference = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=20, choices=ConnectStatus.choices, default=ConnectStatus.PENDING)
    onboarding_url = models.URLField(max_length=1000, blank=True)
    onboarding_url_expires_at = models.DateTimeField(null=True, blank=True)
    links_created = models.PositiveIntegerField(default=0, help_text="Numbers the onboarding links (idempotency).")

    def __str__(self) -> str:
        return f"{self.account_reference} ({self.status})"


class TransferStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AWAITING_ACCOUNT = "awaiting_account", "Waiting for the exhibitor's payout account"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    NOTHING_DUE = "nothing_due", "Nothing due (refunded before payout)"


class Transfer(TimeStampedModel):
    """One payout per exhibitor per order: its lines' total minus commission.

    Amounts are fixed when the transfer is sent (refunds before that simply lower them)."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="transfers")
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="transfers")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="transfers")
    currency = models.CharField(max_length=3)
    gross = models.PositiveBigIntegerField(default=0, help_text="Lines' total less refunds, when sent.")
    commission = models.PositiveBigIntegerField(default=0)
    amount = models.PositiveBigIntegerField(default=0, help_text="gross − commission: what the exhibitor receives.")
    status = models.CharField(max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING, db_index=True)
    provider_reference = models.CharField(max_length=255, null=True, blank=True)
    destination = models.CharField(max_length=255, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "exhibitor"], name="transfer_one_per_exhibitor_order"),
            models.UniqueConstraint(fields=["provider_reference"], condition=Q(provider_reference__isnull=False),
                                    name="transfer_unique_reference"),
            models.CheckConstraint(condition=Q(amount=models.F("gross") - models.F("commission")),
                                   name="transfer_amount_is_gross_less_commission"),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.amount} {self.currency} ({self.status})"


class TransferReversal(TimeStampedModel):
    """Takes back from a sent transfer the part a refund covers (and gives back that commission)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="reversals")
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="reversals")
    amount = models.PositiveBigIntegerField()
    commission_returned = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    provider_reference = models.CharField(max_length=255, null=True, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["transfer", "refund"], name="reversal_one_per_refund"),
            models.UniqueConstraint(fields=["provider_reference"], condition=Q(provider_reference__isnull=False),
                                    name="reversal_unique_reference"),
        ]

    def __str__(self) -> str:
        return f"reversal {self.pk} {self.amount} ({self.status})"


class LedgerKind(models.TextChoices):
    CAPTURE = "capture", "Captured from the shopper"
    COMMISSION = "commission", "Platform commission (negative: given back)"
    TRANSFER = "transfer", "Transferred to an exhibitor"
    TRANSFER_REVERSAL = "transfer_reversal", "Taken back from an exhibitor"
    REFUND = "refund", "Refunded to the shopper"


class LedgerEntry(models.Model):
    """Append-only record of every money movement. `key` is the movement's natural key, unique,
    so the same movement can never be written twice. Per order:
    capture = transfer − transfer_reversal + commission + refund."""

    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="ledger_entries")
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Minor units; only commission may be negative.")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0) | Q(kind="commission"), name="ledger_amount_sign"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"
