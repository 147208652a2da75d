"""Entitlements: what a shopper owns after paying, one row per unit bought.

UNIQUE (order_line, unit_index) is what makes fulfilment exactly-once in effect: a task that runs
twice, or two workers racing, cannot create a second entitlement, hence no second edition,
licence key or pass for the same unit.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.catalog.models import ProductKind


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def new_certificate_code() -> str:
    # 128 random bits: certificate pages are public, so codes must not be guessable.
    return secrets.token_urlsafe(16)


class EntitlementStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class Entitlement(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="entitlements")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="entitlements")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="entitlements")
    unit_index = models.PositiveIntegerField(help_text="0 .. quantity-1 within the order line.")
    kind = models.CharField(max_length=20, choices=ProductKind.choices)
    status = models.CharField(max_length=10, choices=EntitlementStatus.choices, default=EntitlementStatus.ACTIVE)
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="entitlements")
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="entitlements")
    # Secret of this entitlement: part of download tokens and access links; replaced on revocation.
    nonce = models.CharField(max_length=40, default=new_nonce, editable=False)
    # collectible
    edition = models.ForeignKey("catalog.Edition", null=True, blank=True, on_delete=models.PROTECT, related_name="entitlements")
    serial = models.PositiveIntegerField(null=True, blank=True)
    edition_size = models.PositiveIntegerField(null=True, blank=True)
    certificate_code = models.CharField(max_length=40, null=True, blank=True, unique=True)
    certificate_signature = models.CharField(max_length=120, blank=True)
    # service
    slot = models.ForeignKey("catalog.ServiceSlot", null=True, blank=True, on_delete=models.PROTECT, related_name="entitlements")
    access_url = models.URLField(max_length=300, blank=True)
    # download
    downloads_left = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    download_expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never.")
    licence_key = models.OneToOneField("catalog.LicenceKey", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="entitlement")
    # pass
    pass_token = models.CharField(max_length=300, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    created_at = models.DateTimeField(default=timezone.now, db_index=True, help_text="Issued at (signed into certificates).")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order_line", "unit_index"], name="entitlement_unique_unit"),
            # An edition belongs to at most one active owner, whatever happens upstream.
            models.UniqueConstraint(fields=["edition"], condition=Q(status="active"), name="entitlement_unique_active_edition"),
        ]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="entitlement_user_created")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
