"""Money in and out: payment attempts, refunds, exhibitor payouts, the ledger and the webhook inbox.

Every row that mirrors a provider object carries the provider's id under a unique constraint, and
every outgoing provider call is keyed by one of our row ids (the idempotency key), so a retry can
never create a second charge, refund or transfer. Amounts are integer minor units plus currency.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.vouchers.models import Campaign
from marketplace.models import TimeStampedModel
from marketplace.money import format_money


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created (provider not reached yet)")
    REQUIRES_PAYMENT = "requires_payment", _("Waiting for the shopper")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_PAYMENT)
# Not final at the provider: a reconciliation pass re-reads these.
UNSETTLED_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING)


class Payment(TimeStampedModel):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    attempt = models.PositiveIntegerField(_("attempt"), help_text=_("1 for the first attempt of the order, then 2, 3…"))
    provider = models.CharField(_("provider"), max_length=30)
    status = models.CharField(_("status"), max_length=30, choices=PaymentStatus.choices, default=PaymentStatus.CREATED,
                              db_index=True)
    amount = models.PositiveBigIntegerField(_("amount"), help_text=_("Minor units."))
    currency = models.CharField(_("currency"), max_length=3)
    client_secret = models.CharField(_("client secret"), max_length=255, blank=True)
    provider_reference = models.CharField(_("provider reference"), max_length=255, null=True, blank=True,
                                          help_text=_("e.g. the PaymentIntent id."))
    charge_reference = models.CharField(_("charge reference"), max_length=255, blank=True,
                                        help_text=_("The charge: source of the transfers."))
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=500, blank=True)
    # Raised to operators: money we hold that bought nothing (auto-refunded) or a mismatch.
    needs_attention = models.BooleanField(_("needs attention"), default=False, db_index=True)
    attention_reason = models.CharField(_("attention reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["order_id", "-attempt"]
        constraints = [
            models.UniqueConstraint(fields=["order", "attempt"], name="payment_unique_attempt"),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"], condition=Q(provider_reference__isnull=False),
                name="payment_unique_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_reference or '-'} ({self.get_status_display()})"


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    IGNORED = "ignored", _("Ignored")


class WebhookEvent(models.Model):
    """The inbox: every accepted delivery, stored raw before it is processed (one row per event id)."""

    provider = models.CharField(_("provider"), max_length=30)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    object_reference = models.CharField(_("object reference"), max_length=255, blank=True, db_index=True,
                                        help_text=_("Id of the object the event is about (e.g. the PaymentIntent)."))
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED,
                              db_index=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment webhook event")
        verbose_name_plural = _("payment webhook events")
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_unique_event")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.type} ({self.get_status_display()})"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RefundKind(models.TextChoices):
    ORDER = "order", _("Refund of the order (lines or amount)")
    # The payment bought nothing (a second success for a paid order, or inventory gone after
    # expiry): refunded whole, outside the order's own refunds and the exhibitors' payouts.
    VOID = "void", _("Payment that bought nothing")


class Refund(TimeStampedModel):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    kind = models.CharField(_("kind"), max_length=10, choices=RefundKind.choices, default=RefundKind.ORDER)
    amount = models.PositiveBigIntegerField(_("amount"), help_text=_("Minor units."))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=20, choices=RefundStatus.choices, default=RefundStatus.PENDING,
                              db_index=True)
    provider_reference = models.CharField(_("provider reference"), max_length=255, null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("actor"))
    failure_message = models.CharField(_("failure message"), max_length=500, blank=True)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(fields=["payment"], condition=Q(kind="void"), name="refund_one_void_per_payment"),
            models.UniqueConstraint(fields=["provider_reference"], condition=Q(provider_reference__isnull=False),
                                    name="refund_unique_reference"),
        ]

    def __str__(self) -> str:
        label = gettext("Refund %(id)s · %(amount)s") % {"id": self.pk, "amount": format_money(self.amount, self.currency)}
        return f"{label} ({self.get_status_display()})"


class RefundLine(models.Model):
    """A whole order line refunded; the unique line makes a double refund of a line impossible.
    Rows of a refund the provider refused are deleted, so the line can be refunded again."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="refund_lines", verbose_name=_("refund"))
    line = models.OneToOneField("orders.OrderLine", on_delete=models.PROTECT, related_name="refund_line",
                                verbose_name=_("order line"))

    class Meta:
        verbose_name = _("refunded line")
        verbose_name_plural = _("refunded lines")

    def __str__(self) -> str:
        return f"{self.refund_id}: line {self.line_id}"


class RefundAllocation(models.Model):
    """Which exhibitor's sales a refund takes back (drives the transfer reversals). `amount` is
    the goods' value (what the exhibitor was paid on); with a voucher on the order, `subsidy` of it
    goes back to the voucher's funder and the rest (amount − subsidy) to the shopper."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("refund"))
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("exhibitor"))
    amount = models.PositiveBigIntegerField(_("amount"))
    subsidy = models.PositiveBigIntegerField(_("subsidy returned"), default=0,
                                             help_text=_("Part of the amount that goes back to the voucher's funder."))

    class Meta:
        verbose_name = _("refund allocation")
        verbose_name_plural = _("refund allocations")
        constraints = [models.UniqueConstraint(fields=["refund", "exhibitor"], name="refundalloc_unique"),
                       models.CheckConstraint(condition=Q(subsidy__lte=models.F("amount")), name="refundalloc_subsidy_within")]

    def __str__(self) -> str:
        return f"{self.refund_id}/{self.exhibitor_id}: {self.amount}"


class ConnectStatus(models.TextChoices):
    PENDING = "pending", _("Onboarding started")
    ENABLED = "enabled", _("Payouts enabled")
    RESTRICTED = "restricted", _("Restricted")


class ConnectAccount(TimeStampedModel):
    """An exhibitor's Stripe Connect Express account (or its simulated stand-in)."""

    exhibitor = models.OneToOneField("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="connect_account",
                                     verbose_name=_("exhibitor"))
    provider = models.CharField(_("provider"), max_length=30)
    account_reference = models.CharField(_("account reference"), max_length=255, unique=True)
    status = models.CharField(_("status"), max_length=20, choices=ConnectStatus.choices, default=ConnectStatus.PENDING)
    onboarding_url = models.URLField(_("onboarding link"), max_length=1000, blank=True)
    onboarding_url_expires_at = models.DateTimeField(_("onboarding link expires at"), null=True, blank=True)
    links_created = models.PositiveIntegerField(_("links created"), default=0,
                                                help_text=_("Numbers the onboarding links (idempotency)."))

    class Meta:
        verbose_name = _("payout account")
        verbose_name_plural = _("payout accounts")

    def __str__(self) -> str:
        return f"{self.account_reference} ({self.get_status_display()})"


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    AWAITING_ACCOUNT = "awaiting_account", _("Waiting for the exhibitor's payout account")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    NOTHING_DUE = "nothing_due", _("Nothing due (refunded before payout)")


class Transfer(TimeStampedModel):
    """One payout per exhibitor per order: its lines' total minus commission.

    Amounts are fixed when the transfer is sent (refunds before that simply lower them)."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="transfers", verbose_name=_("order"))
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="transfers",
                                  verbose_name=_("exhibitor"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("payment"))
    currency = models.CharField(_("currency"), max_length=3)
    gross = models.PositiveBigIntegerField(_("gross"), default=0, help_text=_("Lines' total less refunds, when sent."))
    commission = models.PositiveBigIntegerField(_("commission"), default=0)
    amount = models.PositiveBigIntegerField(_("amount"), default=0,
                                            help_text=_("gross − commission: what the exhibitor receives."))
    status = models.CharField(_("status"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING,
                              db_index=True)
    provider_reference = models.CharField(_("provider reference"), max_length=255, null=True, blank=True)
    destination = models.CharField(_("destination"), max_length=255, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=500, blank=True)
    # Numbers the provider calls: the idempotency key of attempt n is `<kind>-<id>` (n = 1) or
    # `<kind>-<id>-a<n>`. Only a definite refusal (nothing created at the provider) opens a new
    # attempt; an unknown outcome is retried under the same key, so a payout is never sent twice.
    attempt = models.PositiveIntegerField(_("attempt"), default=1)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "exhibitor"], name="transfer_one_per_exhibitor_order"),
            models.UniqueConstraint(fields=["provider_reference"], condition=Q(provider_reference__isnull=False),
                                    name="transfer_unique_reference"),
            models.CheckConstraint(condition=Q(amount=models.F("gross") - models.F("commission")),
                                   name="transfer_amount_is_gross_less_commission"),
        ]

    def __str__(self) -> str:
        label = gettext("Transfer %(id)s · %(amount)s") % {"id": self.pk, "amount": format_money(self.amount, self.currency)}
        return f"{label} ({self.get_status_display()})"


class TransferReversal(TimeStampedModel):
    """Takes back from a sent transfer the part a refund covers (and gives back that commission)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="reversals", verbose_name=_("transfer"))
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="reversals", verbose_name=_("refund"))
    amount = models.PositiveBigIntegerField(_("amount"))
    commission_returned = models.PositiveBigIntegerField(_("commission returned"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    provider_reference = models.CharField(_("provider reference"), max_length=255, null=True, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=500, blank=True)
    attempt = models.PositiveIntegerField(_("attempt"), default=1, help_text=_("As the transfer's attempt."))

    class Meta:
        verbose_name = _("transfer reversal")
        verbose_name_plural = _("transfer reversals")
        constraints = [
            models.UniqueConstraint(fields=["transfer", "refund"], name="reversal_one_per_refund"),
            models.UniqueConstraint(fields=["provider_reference"], condition=Q(provider_reference__isnull=False),
                                    name="reversal_unique_reference"),
        ]

    def __str__(self) -> str:
        label = gettext("Reversal %(id)s · %(amount)s") % {"id": self.pk,
                                                            "amount": format_money(self.amount, self.transfer.currency)}
        return f"{label} ({self.get_status_display()})"


class LedgerKind(models.TextChoices):
    CAPTURE = "capture", _("Captured from the shopper")
    COMMISSION = "commission", _("Platform commission (negative: given back)")
    TRANSFER = "transfer", _("Transferred to an exhibitor")
    TRANSFER_REVERSAL = "transfer_reversal", _("Taken back from an exhibitor")
    REFUND = "refund", _("Refunded to the shopper")
    SUBSIDY = "subsidy", _("Voucher subsidy from its funder (negative: given back)")


class LedgerEntry(models.Model):
    """Append-only record of every money movement. `key` is the movement's natural key, unique,
    so the same movement can never be written twice. Per order:
    capture + subsidy = transfer − transfer_reversal + commission + refund.

    `subsidy` is a voucher's funder paying part of the order (one row per exhibitor the subsidy
    goes to, written when the order is paid; negative rows give it back on a refund)."""

    key = models.CharField(_("key"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=LedgerKind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="ledger_entries", verbose_name=_("order"))
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("exhibitor"))
    amount = models.BigIntegerField(_("amount"), help_text=_("Minor units; only commission may be negative."))
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0) | Q(kind__in=["commission", "subsidy"]), name="ledger_amount_sign"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_money(self.amount, self.currency)}"


class VoucherSettlement(Campaign):
    """A voucher campaign seen as its settlement (the admin's report page; no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("voucher settlement")
        verbose_name_plural = _("voucher settlements")
