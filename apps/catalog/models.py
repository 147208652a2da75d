"""Products of the four kinds and their inventory (DESIGN.md, "Selling limited goods").

One Product table for all kinds (kind-specific columns are nullable and checked by constraints),
plus one inventory table per kind of limit:
- collectible: `Edition` rows, pre-created, claimed with SKIP LOCKED;
- service: `ServiceSlot` rows with a capacity, claimed by a conditional update of `taken`;
- download / pass: `Product.stock_total` (null = unlimited) and `stock_taken`, claimed the same way.
"""

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone, translation

from marketplace.models import TimeStampedModel
from marketplace.storage import private_storage


class ProductKind(models.TextChoices):
    COLLECTIBLE = "collectible", "Collectible"
    SERVICE = "service", "Service"
    DOWNLOAD = "download", "Download"
    PASS = "pass", "Pass"


class Product(TimeStampedModel):
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="products")
    kind = models.CharField(max_length=20, choices=ProductKind.choices)
    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=200)
    title_zh = models.CharField("title (Chinese)", max_length=200, blank=True)
    description = models.TextField(blank=True)
    description_zh = models.TextField("description (Chinese)", blank=True)
    price = models.PositiveBigIntegerField(help_text="Minor units: 1999 is 19.99.")
    currency = models.CharField(max_length=3, default=settings.MARKETPLACE["DEFAULT_CURRENCY"])
    is_published = models.BooleanField(default=False, db_index=True)
    sale_starts_at = models.DateTimeField(null=True, blank=True, help_text="Empty: on sale once published.")
    sale_ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: no end.")
    per_customer_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Units per shopper; empty: no limit.")
    # collectible
    edition_size = models.PositiveIntegerField(null=True, blank=True, help_text="Collectibles: number of numbered editions.")
    # download / pass: stock counter (null = unlimited)
    stock_total = models.PositiveIntegerField(null=True, blank=True, help_text="Downloads and passes: units for sale; empty: unlimited.")
    stock_taken = models.PositiveIntegerField(default=0, editable=False)
    # pass
    pass_valid_from = models.DateTimeField(null=True, blank=True)
    pass_valid_until = models.DateTimeField(null=True, blank=True)
    # download
    download_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Downloads: times each link may be used.")

    class Meta:
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
        errors: dict[str, str] = {}
        if self.kind == ProductKind.COLLECTIBLE:
            if not self.edition_size:
                errors["edition_size"] = "A collectible needs an edition size of at least 1."
            if self.stock_total is not None:
                errors["stock_total"] = "Collectibles are limited by their edition size, not a stock count."
        elif self.edition_size is not None:
            errors["edition_size"] = "Only collectibles have an edition size."
        if self.kind == ProductKind.SERVICE and self.stock_total is not None:
            errors["stock_total"] = "Services are limited by their slots' capacity."
        if self.sale_starts_at and self.sale_ends_at and self.sale_ends_at <= self.sale_starts_at:
            errors["sale_ends_at"] = "The sale must end after it starts."
        if self.pass_valid_from and self.pass_valid_until and self.pass_valid_until <= self.pass_valid_from:
            errors["pass_valid_until"] = "The pass must end after it starts."
        if self.currency and len(self.currency) != 3:
            errors["currency"] = "Use a three-letter ISO 4217 code."
        if errors:
            raise ValidationError(errors)

    @property
    def localized_title(self) -> str:
        return self.title_zh if self.title_zh and translation.get_language() == "zh-hans" else self.title

    @property
    def localized_description(self) -> str:
        return self.description_zh if self.description_zh and translation.get_language() == "zh-hans" else self.description

    def is_in_sale_window(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (self.sale_starts_at is None or self.sale_starts_at <= now) and (self.sale_ends_at is None or now < self.sale_ends_at)


class EditionStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    HELD = "held", "Held by an unpaid order"
    SOLD = "sold", "Sold"


class Edition(models.Model):
    """Numbered edition "#serial of edition_size". Created in bulk with the product."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="editions")
    serial = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=EditionStatus.choices, default=EditionStatus.AVAILABLE)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["product_id", "serial"]
        constraints = [models.UniqueConstraint(fields=["product", "serial"], name="edition_unique_serial")]
        indexes = [
            # Claims and "remaining" counts touch only available editions of one product.
            models.Index(fields=["product", "serial"], condition=Q(status="available"), name="edition_available"),
        ]

    def __str__(self) -> str:
        return f"#{self.serial}"


class ServiceSlot(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity = models.PositiveIntegerField(default=1)
    taken = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
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
            raise ValidationError({"ends_at": "The slot must end after it starts."})
        if self.capacity is not None and self.taken > self.capacity:
            raise ValidationError({"capacity": f"{self.taken} places are already booked."})

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.taken, 0)


class DownloadFile(TimeStampedModel):
    """A file delivered by a download product; stored privately, handed out by signed links."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="downloads/%Y/%m/", storage=private_storage)
    size = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["product_id", "name"]

    def __str__(self) -> str:
        return self.name


class LicenceKeyStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    ASSIGNED = "assigned", "Assigned"


class LicenceKey(TimeStampedModel):
    """A key from a download product's pool, drawn exactly once at fulfilment."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="licence_keys")
    key = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=LicenceKeyStatus.choices, default=LicenceKeyStatus.AVAILABLE)

    class Meta:
        ordering = ["product_id", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "key"], name="licence_key_unique_per_product")]
        indexes = [models.Index(fields=["product", "id"], condition=Q(status="available"), name="licence_key_available")]

    def __str__(self) -> str:
        return f"{self.key[:4]}…"
