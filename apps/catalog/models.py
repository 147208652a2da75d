"""Products of the four kinds and their inventory (DESIGN.md, "Selling limited goods").

One Product table for all kinds (kind-specific columns are nullable and checked by constraints),
plus one inventory table per kind of limit:
- collectible: `Edition` rows, pre-created, claimed with SKIP LOCKED;
- service: `ServiceSlot` rows with a capacity, claimed by a conditional update of `taken`;
- download / pass: `Product.stock_total` (null = unlimited) and `stock_taken`, claimed the same way.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.i18n import EnglishOriginalColumnsMixin
from marketplace.models import TimeStampedModel
from marketplace.storage import private_storage


class ProductKind(models.TextChoices):
    COLLECTIBLE = "collectible", _("Collectible")
    SERVICE = "service", _("Service")
    DOWNLOAD = "download", _("Download")
    PASS = "pass", _("Pass")
    BUNDLE = "bundle", _("Bundle")


# What a shopper can be given (an entitlement's kind): a bundle is delivered as its components.
DELIVERED_KIND_CHOICES = [(value, label) for value, label in ProductKind.choices if value != ProductKind.BUNDLE]


class SaleMode(models.TextChoices):
    FIRST_COME = "first_come", _("First come, first served")
    BALLOT = "ballot", _("Ballot")


class Product(EnglishOriginalColumnsMixin, TimeStampedModel):
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="products",
                                  verbose_name=_("exhibitor"))
    kind = models.CharField(_("kind"), max_length=20, choices=ProductKind.choices)
    slug = models.SlugField(_("slug"), max_length=80)
    # Translated (apps/catalog/translation.py): title_en, title_zh_hans, description_en, description_zh_hans.
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    price = models.PositiveBigIntegerField(_("price"), help_text=_("Minor units: 1999 is 19.99."))
    currency = models.CharField(_("currency"), max_length=3, default=settings.MARKETPLACE["DEFAULT_CURRENCY"])
    is_published = models.BooleanField(_("published"), default=False, db_index=True)
    sale_starts_at = models.DateTimeField(_("sale starts at"), null=True, blank=True, help_text=_("Empty: on sale once published."))
    sale_ends_at = models.DateTimeField(_("sale ends at"), null=True, blank=True, help_text=_("Empty: no end."))
    per_customer_limit = models.PositiveIntegerField(_("per-customer limit"), null=True, blank=True,
                                                     help_text=_("Units per shopper; empty: no limit."))
    # collectible
    edition_size = models.PositiveIntegerField(_("edition size"), null=True, blank=True,
                                               help_text=_("Collectibles: number of numbered editions."))
    # download / pass: stock counter (null = unlimited)
    stock_total = models.PositiveIntegerField(_("stock"), null=True, blank=True,
                                              help_text=_("Downloads and passes: units for sale; empty: unlimited."))
    stock_taken = models.PositiveIntegerField(_("units taken"), default=0, editable=False)
    # pass
    pass_valid_from = models.DateTimeField(_("pass valid from"), null=True, blank=True)
    pass_valid_until = models.DateTimeField(_("pass valid until"), null=True, blank=True)
    # download
    download_limit = models.PositiveIntegerField(_("download limit"), null=True, blank=True,
                                                 help_text=_("Downloads: times each link may be used."))
    # service: where the consultation happens (a slot's own link wins)
    meeting_url = models.URLField(_("meeting link"), max_length=500, blank=True,
                                  help_text=_("Services: the meeting link shoppers open during their slot (a slot's own link wins)."))
    image = models.ImageField(_("image"), upload_to="products/%Y/%m/", blank=True,
                              help_text=_("Shown in the catalogue; thumbnails are made from it."))
    # drops (apps/catalog/services/ballots.py): a ballot product is sold only to drawn winners
    sale_mode = models.CharField(_("sale mode"), max_length=20, choices=SaleMode.choices, default=SaleMode.FIRST_COME,
                                 help_text=_("Ballot: shoppers register, a seeded draw picks who may buy."))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["exhibitor", "slug"], name="product_unique_slug_per_exhibitor"),
            models.CheckConstraint(
                condition=Q(stock_total__isnull=True) | Q(stock_taken__lte=F("stock_total")), name="product_stock_not_oversold"
            ),
            models.CheckConstraint(
                condition=Q(sale_ends_at__isnull=True) | Q(sale_starts_at__isnull=True) | Q(sale_ends_at__gt=F("sale_starts_at")),
                name="product_sale_window_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(kind=ProductKind.COLLECTIBLE) | Q(edition_size__gte=1),
                name="product_collectible_has_editions",
            ),
            models.CheckConstraint(
                condition=Q(kind=ProductKind.COLLECTIBLE) | Q(edition_size__isnull=True),
                name="product_only_collectibles_have_editions",
            ),
            models.CheckConstraint(
                condition=Q(per_customer_limit__isnull=True) | Q(per_customer_limit__gte=1), name="product_limit_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="product_kind_created"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.kind == ProductKind.COLLECTIBLE:
            if not self.edition_size:
                errors["edition_size"] = _("A collectible needs an edition size of at least 1.")
            if self.stock_total is not None:
                errors["stock_total"] = _("Collectibles are limited by their edition size, not a stock count.")
        elif self.edition_size is not None:
            errors["edition_size"] = _("Only collectibles have an edition size.")
        if self.kind == ProductKind.SERVICE and self.stock_total is not None:
            errors["stock_total"] = _("Services are limited by their slots' capacity.")
        if self.kind == ProductKind.BUNDLE:  # limited by its components' own stock and per-customer limits
            if self.stock_total is not None:
                errors["stock_total"] = _("A bundle is limited by its components' stock, not a stock count of its own.")
            if self.per_customer_limit is not None:
                errors["per_customer_limit"] = _("A bundle has no per-customer limit of its own; its components' limits apply.")
        if self.sale_starts_at and self.sale_ends_at and self.sale_ends_at <= self.sale_starts_at:
            errors["sale_ends_at"] = _("The sale must end after it starts.")
        if self.pass_valid_from and self.pass_valid_until and self.pass_valid_until <= self.pass_valid_from:
            errors["pass_valid_until"] = _("The pass must end after it starts.")
        if self.currency and len(self.currency) != 3:
            errors["currency"] = _("Use a three-letter ISO 4217 code.")
        if errors:
            raise ValidationError(errors)

    def is_in_sale_window(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (self.sale_starts_at is None or self.sale_starts_at <= now) and (self.sale_ends_at is None or now < self.sale_ends_at)


class EditionStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    HELD = "held", _("Held by an unpaid order")
    SOLD = "sold", _("Sold")


class Edition(models.Model):
    """Numbered edition "#serial of edition_size". Created in bulk with the product."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="editions", verbose_name=_("product"))
    serial = models.PositiveIntegerField(_("serial number"))
    status = models.CharField(_("status"), max_length=20, choices=EditionStatus.choices, default=EditionStatus.AVAILABLE)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("edition")
        verbose_name_plural = _("editions")
        ordering = ["product_id", "serial"]
        constraints = [models.UniqueConstraint(fields=["product", "serial"], name="edition_unique_serial")]
        indexes = [
            # Claims and "remaining" counts touch only available editions of one product.
            models.Index(fields=["product", "serial"], condition=Q(status="available"), name="edition_available"),
        ]

    def __str__(self) -> str:
        return f"#{self.serial}"


class ServiceSlot(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="slots", verbose_name=_("product"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("capacity"), default=1)
    taken = models.PositiveIntegerField(_("booked"), default=0, editable=False)
    meeting_url = models.URLField(_("meeting link"), max_length=500, blank=True, help_text=_("Empty: the product's meeting link."))

    class Meta:
        verbose_name = _("service slot")
        verbose_name_plural = _("service slots")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(taken__lte=F("capacity")), name="slot_not_overbooked"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"),
        ]
        indexes = [models.Index(fields=["product", "starts_at"], name="slot_product_start")]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.starts_at):%Y-%m-%d %H:%M} ({self.taken}/{self.capacity})"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The slot must end after it starts.")})
        if self.capacity is not None and self.taken > self.capacity:
            raise ValidationError({"capacity": _("%(count)s places are already booked.") % {"count": self.taken}})

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.taken, 0)


class DownloadFile(TimeStampedModel):
    """A file delivered by a download product; stored privately, handed out by signed links."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="files", verbose_name=_("product"))
    name = models.CharField(_("name"), max_length=200)
    file = models.FileField(_("file"), upload_to="downloads/%Y/%m/", storage=private_storage)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0, editable=False)

    class Meta:
        verbose_name = _("download file")
        verbose_name_plural = _("download files")
        ordering = ["product_id", "name"]

    def __str__(self) -> str:
        return self.name


class LicenceKeyStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    ASSIGNED = "assigned", _("Assigned")


class LicenceKey(TimeStampedModel):
    """A key from a download product's pool, drawn exactly once at fulfilment."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="licence_keys", verbose_name=_("product"))
    key = models.CharField(_("key"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=LicenceKeyStatus.choices, default=LicenceKeyStatus.AVAILABLE)

    class Meta:
        verbose_name = _("licence key")
        verbose_name_plural = _("licence keys")
        ordering = ["product_id", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "key"], name="licence_key_unique_per_product")]
        indexes = [models.Index(fields=["product", "id"], condition=Q(status="available"), name="licence_key_available")]

    def __str__(self) -> str:
        return f"{self.key[:4]}…"


class BallotStatus(models.TextChoices):
    REGISTRATION = "registration", _("Registration")
    DRAWN = "drawn", _("Drawn")
    CLOSED = "closed", _("Closed")


class Ballot(TimeStampedModel):
    """A drop sold by ballot (apps/catalog/services/ballots.py has the algorithm and the rules).

    The seed is secret until the draw; only its SHA-256 (the commitment) is public before.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="ballot", verbose_name=_("product"))
    registration_starts_at = models.DateTimeField(_("registration starts at"))
    registration_ends_at = models.DateTimeField(_("registration ends at"))
    draw_at = models.DateTimeField(_("draw at"), help_text=_("At or after the end of registration."))
    purchase_window_minutes = models.PositiveIntegerField(_("purchase window (minutes)"), default=60,
                                                          help_text=_("How long each winner may buy once offered."))
    seed = models.CharField(_("seed"), max_length=128, editable=False)
    seed_sha256 = models.CharField(_("seed SHA-256"), max_length=64, editable=False)
    status = models.CharField(_("status"), max_length=20, choices=BallotStatus.choices, default=BallotStatus.REGISTRATION)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True, editable=False)
    registrations_count = models.PositiveIntegerField(_("registrations"), default=0, editable=False)
    winners_count = models.PositiveIntegerField(_("wins drawn"), null=True, blank=True, editable=False,
                                                help_text=_("Editions for sale at the draw, capped by the registrations."))

    class Meta:
        verbose_name = _("ballot")
        verbose_name_plural = _("ballots")
        ordering = ["draw_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(registration_ends_at__gt=F("registration_starts_at")),
                                   name="ballot_registration_ordered"),
            models.CheckConstraint(condition=Q(draw_at__gte=F("registration_ends_at")), name="ballot_draw_after_registration"),
            models.CheckConstraint(condition=Q(purchase_window_minutes__gte=1), name="ballot_window_positive"),
        ]
        indexes = [models.Index(fields=["status", "draw_at"], name="ballot_status_draw")]

    def __str__(self) -> str:
        return str(self.product)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.registration_starts_at and self.registration_ends_at and self.registration_ends_at <= self.registration_starts_at:
            errors["registration_ends_at"] = _("Registration must end after it starts.")
        if self.registration_ends_at and self.draw_at and self.draw_at < self.registration_ends_at:
            errors["draw_at"] = _("The draw cannot happen before registration ends.")
        if errors:
            raise ValidationError(errors)


class BallotEntryStatus(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    WON = "won", _("Won: may buy")
    CLAIMED = "claimed", _("Won: order placed")
    WAITING = "waiting", _("Not drawn (waiting list)")
    LAPSED = "lapsed", _("Won, window passed")


class BallotEntry(models.Model):
    """One shopper's registration. `public_id` is the opaque id published with the draw."""

    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="entries", verbose_name=_("ballot"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ballot_entries",
                             verbose_name=_("shopper"))
    public_id = models.CharField(_("public id"), max_length=32, unique=True)
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=20, choices=BallotEntryStatus.choices, default=BallotEntryStatus.REGISTERED)
    draw_position = models.PositiveIntegerField(_("drawn position"), null=True, blank=True)
    offered_at = models.DateTimeField(_("offered at"), null=True, blank=True)
    purchase_by = models.DateTimeField(_("purchase by"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("ballot registration")
        verbose_name_plural = _("ballot registrations")
        ordering = ["ballot_id", "registered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ballot", "user"], name="ballot_entry_once_per_user"),
            models.UniqueConstraint(fields=["ballot", "draw_position"], name="ballot_entry_unique_position"),
        ]
        indexes = [models.Index(fields=["ballot", "status", "draw_position"], name="ballot_entry_status_pos")]

    def __str__(self) -> str:
        return self.public_id


class HolderPriority(TimeStampedModel):
    """Holders of any of `holders_of` may order `product` from `starts_at`, before its sale starts."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="priority", verbose_name=_("product"))
    starts_at = models.DateTimeField(_("priority starts at"), help_text=_("Before the product's sale start."))
    holders_of = models.ManyToManyField(Product, related_name="+", verbose_name=_("holders of"),
                                        help_text=_("Holders of any of these collectibles get priority."))

    class Meta:
        verbose_name = _("holder priority")
        verbose_name_plural = _("holder priorities")

    def __str__(self) -> str:
        return str(self.product)


class EditionHolding(models.Model):
    """Who holds an edition now: kept by fulfilment when it issues, revokes or transfers a collectible.

    Lives in catalog so that order placement (a lower layer than fulfilment) can check holder
    priority without importing fulfilment.
    """

    edition = models.OneToOneField(Edition, on_delete=models.CASCADE, related_name="holding", verbose_name=_("edition"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="edition_holdings",
                             verbose_name=_("holder"))
    since = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("edition holding")
        verbose_name_plural = _("edition holdings")
        indexes = [models.Index(fields=["user", "edition"], name="edition_holding_user")]

    def __str__(self) -> str:
        return f"{self.edition_id} → {self.user_id}"


class BundleComponent(models.Model):
    """A product a bundle contains: `quantity` units per bundle, paid `share_bps` of the bundle's price.

    A bundle's shares sum to 10,000 (checked by apps/catalog/services/bundles.py, which also keeps
    bundles of bundles, ballots and other exhibitors' goods in a staff member's bundle out).
    """

    bundle = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="bundle_components", verbose_name=_("bundle"))
    component = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="in_bundles", verbose_name=_("product"))
    quantity = models.PositiveIntegerField(_("quantity"), default=1, help_text=_("Units of this product in one bundle."))
    share_bps = models.PositiveIntegerField(_("share"), help_text=_("Part of the bundle's price paid for this product."))

    class Meta:
        verbose_name = _("bundle component")
        verbose_name_plural = _("bundle components")
        ordering = ["bundle_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bundle", "component"], name="bundle_component_once"),
            models.CheckConstraint(condition=~Q(bundle=F("component")), name="bundle_component_not_itself"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="bundle_component_quantity_positive"),
            models.CheckConstraint(condition=Q(share_bps__gte=1, share_bps__lte=10_000), name="bundle_component_share_range"),
        ]
        indexes = [models.Index(fields=["component"], name="bundle_component_product")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.component}"
