"""Consumption vouchers (API.md "Vouchers"): campaigns, the vouchers shoppers claim, and the
redemption of a voucher by one order.

A campaign's budget is `quantity` vouchers of `face_value` (budget // face value). Claims race on
the campaign's counters by a conditional UPDATE (`claimed_count - returned_count < quantity`), so
the budget is never exceeded; per-shopper limits are a conditional upsert on `CustomerClaims`;
a per-window quota of a campaign whose unclaimed value does not roll over is a conditional upsert
on `CampaignWindow`. Nothing is checked in Python and then saved.

Vouchers sit between catalog and orders: placement applies a voucher inside its own claim
transaction (a conditional UPDATE available → applied), and orders call back here when an order
is paid, cancelled or expires. The money (the funder's subsidy) is in payments' ledger, above.
"""

import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from marketplace.models import TimeStampedModel

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_voucher_code() -> str:
    """E.g. "VC-7K3F-9QZ2-M4TX": 30^12 values, unique in the database."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"VC-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


class FunderKind(models.TextChoices):
    PLATFORM = "platform", _("Platform")
    EXHIBITOR = "exhibitor", _("Exhibitor")
    PUBLIC = "public", _("Public body")


class RefundRule(models.TextChoices):
    # Whatever the rule, a refunded sale's subsidy goes back to the funder (the ledger's negative
    # `subsidy` movement) and the shopper gets back what they paid for the refunded part.
    RETURN_VOUCHER = "return_voucher", _("Full refund: the voucher comes back to the shopper if still valid")
    FORFEIT = "forfeit", _("Full refund: the voucher stays used")


class Campaign(TimeStampedModel):
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    funder_kind = models.CharField(_("funded by"), max_length=20, choices=FunderKind.choices, default=FunderKind.PLATFORM)
    funder_exhibitor = models.ForeignKey("exhibitors.Exhibitor", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="voucher_campaigns", verbose_name=_("funding exhibitor"))
    funder_name = models.CharField(_("funder's name"), max_length=200, blank=True,
                                   help_text=_("E.g. the city commerce bureau; an exhibitor's campaign shows the exhibitor's name."))
    currency = models.CharField(_("currency"), max_length=3, default=settings.MARKETPLACE["DEFAULT_CURRENCY"])
    face_value = models.PositiveBigIntegerField(_("face value"), help_text=_("Minor units taken off an order."))
    min_spend = models.PositiveBigIntegerField(_("minimum spend"),
                                               help_text=_("Minor units of in-scope goods an order needs; above the face value."))
    budget = models.PositiveBigIntegerField(_("budget"), help_text=_("Minor units; the campaign issues budget ÷ face value vouchers."))
    quantity = models.PositiveIntegerField(_("vouchers"), editable=False, default=0)
    scope_exhibitors = models.ManyToManyField("exhibitors.Exhibitor", blank=True, related_name="+",
                                              verbose_name=_("exhibitors in scope"), help_text=_("Empty: every exhibitor."))
    scope_kinds = ArrayField(models.CharField(max_length=20), blank=True, default=list, verbose_name=_("kinds in scope"),
                             help_text=_("Empty: every kind."))
    scope_products = models.ManyToManyField("catalog.Product", blank=True, related_name="+",
                                            verbose_name=_("products in scope"), help_text=_("Empty: every product."))
    eligibility = models.ForeignKey("accounts.EligibilityGroup", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("eligible group"),
                                    help_text=_("Empty: every shopper; else verified members of this group only."))
    claim_starts_at = models.DateTimeField(_("claims open at"))
    claim_ends_at = models.DateTimeField(_("claims close at"))
    window_starts = models.TimeField(_("daily window opens at"), null=True, blank=True,
                                     help_text=_("Recurring claims: each day at this local time (e.g. 12:00). Empty: one window."))
    window_minutes = models.PositiveIntegerField(_("window length (minutes)"), null=True, blank=True)
    window_quota = models.PositiveIntegerField(_("vouchers per window"), null=True, blank=True,
                                               help_text=_("Empty: no cap per window beyond the budget."))
    per_customer_limit = models.PositiveIntegerField(_("per shopper in total"), default=1)
    per_window_limit = models.PositiveIntegerField(_("per shopper per window"), null=True, blank=True,
                                                   help_text=_("Empty: only the total limit."))
    valid_days = models.PositiveIntegerField(_("valid for (days)"), default=7, help_text=_("After the claim."))
    returns_to_pool = models.BooleanField(
        _("unclaimed and expired value returns to the pool"), default=False,
        help_text=_("On: a window's unclaimed vouchers roll over to the next, and expired vouchers can be claimed again."))
    refund_rule = models.CharField(_("on a full refund"), max_length=20, choices=RefundRule.choices,
                                   default=RefundRule.RETURN_VOUCHER)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Off: paused, nobody can claim."))
    claimed_count = models.PositiveIntegerField(_("claimed"), default=0, editable=False)
    returned_count = models.PositiveIntegerField(_("returned to the pool"), default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))

    class Meta:
        verbose_name = _("voucher campaign")
        verbose_name_plural = _("voucher campaigns")
        ordering = ["-claim_starts_at", "slug"]
        constraints = [
            models.CheckConstraint(condition=Q(face_value__gt=0), name="campaign_face_value_positive"),
            # "10 off 20": a voucher never pays a whole order (the shopper always pays something).
            models.CheckConstraint(condition=Q(min_spend__gt=F("face_value")), name="campaign_min_spend_above_face"),
            models.CheckConstraint(condition=Q(quantity__lte=F("budget") / F("face_value")), name="campaign_quantity_within_budget"),
            models.CheckConstraint(condition=Q(claimed_count__lte=F("quantity") + F("returned_count")),
                                   name="campaign_budget_never_exceeded"),
            models.CheckConstraint(condition=Q(claim_ends_at__gt=F("claim_starts_at")), name="campaign_claim_window_ordered"),
            models.CheckConstraint(
                condition=(Q(funder_kind=FunderKind.EXHIBITOR, funder_exhibitor__isnull=False)
                           | (~Q(funder_kind=FunderKind.EXHIBITOR) & Q(funder_exhibitor__isnull=True))),
                name="campaign_exhibitor_funder_named"),
            models.CheckConstraint(condition=Q(window_starts__isnull=True) | Q(window_minutes__gte=1),
                                   name="campaign_window_has_length"),
            models.CheckConstraint(condition=Q(per_customer_limit__gte=1), name="campaign_limit_positive"),
            models.CheckConstraint(condition=Q(per_window_limit__isnull=True) | Q(per_window_limit__gte=1),
                                   name="campaign_window_limit_positive"),
            models.CheckConstraint(condition=Q(window_quota__isnull=True) | Q(window_quota__gte=1),
                                   name="campaign_window_quota_positive"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def remaining(self) -> int:
        return max(self.quantity + self.returned_count - self.claimed_count, 0)


class VoucherStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    APPLIED = "applied", _("Applied to an unpaid order")
    USED = "used", _("Used")
    EXPIRED = "expired", _("Expired")


class Voucher(TimeStampedModel):
    """One claimed voucher. `status` moves available → applied (an order placed with it) → used
    (that order paid); applied → available (the order cancelled or expired while the voucher is
    valid); available/applied → expired. Every move is a conditional UPDATE on the status."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="vouchers", verbose_name=_("campaign"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vouchers",
                             verbose_name=_("shopper"))
    code = models.CharField(_("code"), max_length=20, unique=True, default=new_voucher_code, editable=False)
    status = models.CharField(_("status"), max_length=20, choices=VoucherStatus.choices, default=VoucherStatus.AVAILABLE)
    window_starts_at = models.DateTimeField(_("claimed in the window of"))
    expires_at = models.DateTimeField(_("expires at"))
    returned_to_pool = models.BooleanField(_("returned to the pool"), default=False, editable=False)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="voucher_user_created"),
            models.Index(fields=["campaign", "status"], name="voucher_campaign_status"),
            models.Index(fields=["expires_at"], condition=Q(status="available"), name="voucher_available_expiry"),
        ]

    def __str__(self) -> str:
        return self.code


class RedemptionStatus(models.TextChoices):
    APPLIED = "applied", _("Applied (order unpaid)")
    USED = "used", _("Used (order paid)")
    RELEASED = "released", _("Released (order cancelled or expired)")
    REFUNDED = "refunded", _("Refunded in full")


class Redemption(TimeStampedModel):
    """A voucher applied to one order (one per order), with the discount and how it is split over
    the order's lines and exhibitors: the funder's subsidy owed to each exhibitor."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("voucher"))
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("campaign"))
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="voucher_redemption",
                                 verbose_name=_("order"))
    status = models.CharField(_("status"), max_length=20, choices=RedemptionStatus.choices, default=RedemptionStatus.APPLIED)
    discount = models.PositiveBigIntegerField(_("discount"))
    currency = models.CharField(_("currency"), max_length=3)
    line_shares = models.JSONField(_("discount per order line"), default=dict)
    exhibitor_shares = models.JSONField(_("subsidy per exhibitor"), default=dict)

    class Meta:
        verbose_name = _("voucher redemption")
        verbose_name_plural = _("voucher redemptions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["voucher"], condition=Q(status__in=["applied", "used"]),
                                    name="redemption_one_open_per_voucher"),
            models.CheckConstraint(condition=Q(discount__gt=0), name="redemption_discount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.voucher_id} → {self.order_id}"


class CustomerClaims(models.Model):
    """What a shopper claimed of a campaign: in total and in the current window (one row, one
    conditional upsert per claim)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    total = models.PositiveIntegerField(default=0)
    window_starts_at = models.DateTimeField()
    window_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("shopper's claims")
        verbose_name_plural = _("shoppers' claims")
        constraints = [models.UniqueConstraint(fields=["campaign", "user"], name="customerclaims_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.user_id}: {self.total}"


class CampaignWindow(models.Model):
    """Vouchers claimed in one window of a campaign whose unclaimed vouchers do not roll over."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="windows")
    starts_at = models.DateTimeField()
    claimed = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("claim window")
        verbose_name_plural = _("claim windows")
        constraints = [models.UniqueConstraint(fields=["campaign", "starts_at"], name="campaignwindow_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}@{self.starts_at:%Y-%m-%d %H:%M}: {self.claimed}"
