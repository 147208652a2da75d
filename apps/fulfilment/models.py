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
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import DELIVERED_KIND_CHOICES


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def new_certificate_code() -> str:
    # 128 random bits: certificate pages are public, so codes must not be guessable.
    return secrets.token_urlsafe(16)


class EntitlementStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")
    TRANSFERRED = "transferred", _("Given to another shopper")


class Entitlement(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="entitlements",
                             verbose_name=_("owner"))
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="entitlements", verbose_name=_("order"))
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="entitlements",
                                   verbose_name=_("order line"))
    unit_index = models.PositiveIntegerField(_("unit index"), help_text=_("0 .. quantity-1 within the order line."))
    kind = models.CharField(_("kind"), max_length=20, choices=DELIVERED_KIND_CHOICES)  # a bundle's units are its components'
    status = models.CharField(_("status"), max_length=20, choices=EntitlementStatus.choices, default=EntitlementStatus.ACTIVE)
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="entitlements",
                                verbose_name=_("product"))
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="entitlements",
                                  verbose_name=_("exhibitor"))
    # Secret of this entitlement: part of download tokens and access links; replaced on revocation.
    nonce = models.CharField(_("nonce"), max_length=40, default=new_nonce, editable=False)
    # collectible
    edition = models.ForeignKey("catalog.Edition", null=True, blank=True, on_delete=models.PROTECT, related_name="entitlements",
                                verbose_name=_("edition"))
    serial = models.PositiveIntegerField(_("serial number"), null=True, blank=True)
    edition_size = models.PositiveIntegerField(_("edition size"), null=True, blank=True)
    # Unique among current rows (constraint below): a gift's new row keeps the certificate of the old one.
    certificate_code = models.CharField(_("certificate code"), max_length=40, null=True, blank=True, db_index=True)
    certificate_signature = models.CharField(_("certificate signature"), max_length=120, blank=True)
    # service
    slot = models.ForeignKey("catalog.ServiceSlot", null=True, blank=True, on_delete=models.PROTECT, related_name="entitlements",
                             verbose_name=_("service slot"))
    access_url = models.URLField(_("access link"), max_length=300, blank=True)
    # download
    downloads_left = models.PositiveIntegerField(_("downloads left"), null=True, blank=True, help_text=_("Empty: unlimited."))
    download_expires_at = models.DateTimeField(_("download expires at"), null=True, blank=True, help_text=_("Empty: never."))
    licence_key = models.OneToOneField("catalog.LicenceKey", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="entitlement", verbose_name=_("licence key"))
    # pass
    pass_token = models.CharField(_("pass token"), max_length=300, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("redeemed by"))

    created_at = models.DateTimeField(_("issued at"), default=timezone.now, db_index=True,
                                      help_text=_("Issued at (signed into certificates)."))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.CharField(_("revocation reason"), max_length=40, blank=True)
    # gifts (apps/fulfilment/services/gifts.py): a received gift's row has `acquired_at`; the
    # giver's row becomes `transferred` at `transferred_at`.
    acquired_at = models.DateTimeField(_("received at"), null=True, blank=True,
                                       help_text=_("Set when received as a gift; empty: bought (see issued at)."))
    transferred_at = models.DateTimeField(_("given at"), null=True, blank=True)

    class Meta:
        verbose_name = _("entitlement")
        verbose_name_plural = _("entitlements")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One current row per unit bought; a gift adds a row for the same unit and marks the
            # giver's `transferred`.
            models.UniqueConstraint(fields=["order_line", "unit_index"], condition=~Q(status="transferred"),
                                    name="entitlement_unique_unit"),
            models.UniqueConstraint(fields=["certificate_code"], condition=~Q(status="transferred"),
                                    name="entitlement_unique_certificate"),
            # An edition belongs to at most one active owner, whatever happens upstream.
            models.UniqueConstraint(fields=["edition"], condition=Q(status="active"), name="entitlement_unique_active_edition"),
        ]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="entitlement_user_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"


class Gift(models.Model):
    """A collectible edition given by its holder to another verified shopper: no price travels.

    `from_entitlement` is unique: an entitlement is given at most once (of two concurrent gifts of
    the same item exactly one inserts). The recipient's `to_entitlement` keeps the edition,
    serial and certificate; the giver's row is `transferred`.
    """

    from_entitlement = models.OneToOneField(Entitlement, on_delete=models.PROTECT, related_name="gift_out",
                                            verbose_name=_("given entitlement"))
    to_entitlement = models.OneToOneField(Entitlement, on_delete=models.PROTECT, related_name="gift_in",
                                          verbose_name=_("received entitlement"))
    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("giver"))
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recipient"))
    created_at = models.DateTimeField(_("given at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk}: {self.from_entitlement_id} → {self.to_entitlement_id}"
