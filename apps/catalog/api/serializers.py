"""Output serializers for the public catalog (API.md "Catalog (public)").

They read the annotations of apps.catalog.selectors (`remaining`, `on_sale`, `remaining_places`)
and the joined exhibitor, so serializing a page issues no query per row.

One source of truth per shape: `product_output()` is the only code that writes a product (one
dict display: DRF's per-field walk cost ≈0.1 ms a row, half of a 100-product page, bench S3
profile). `ProductOutputSerializer` only declares the fields for the OpenAPI schema and hands
writing to `product_output()`; tests/test_output_shapes.py validates what the function writes,
for every kind and language, against the generated schema (every property present, no other).
"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from apps.catalog import images
from apps.catalog.api.bundle_serializers import ProductComponentSerializer, bundle_components_output
from apps.catalog.models import BallotStatus, Product, ProductKind, SaleMode, ServiceSlot
from apps.exhibitors.models import Exhibitor
from marketplace.api.representation import TranslationTextField, iso_datetime


class ProductExhibitorSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")

    class Meta:
        model = Exhibitor
        fields = ["slug", "name"]
        read_only_fields = fields


class ProductImageSerializer(serializers.Serializer):
    """A product's picture and its thumbnails (made when it was uploaded): absolute URLs."""

    original = serializers.URLField(read_only=True, help_text="The picture as the exhibitor uploaded it.")
    thumb_200 = serializers.URLField(read_only=True, help_text="JPEG, 200 x 200, cropped to a square.")
    thumb_600 = serializers.URLField(read_only=True, help_text="JPEG, fits inside 600 x 600, not cropped.")

    def to_representation(self, instance: Any) -> dict[str, str] | None:  # type: ignore[override]
        return images.image_urls(instance.name if instance else None)


class ProductBallotSerializer(serializers.Serializer):
    """A drop sold by ballot (API.md "Drops"); `seed` stays null until the draw reveals it."""

    registration_starts_at = serializers.DateTimeField(read_only=True)
    registration_ends_at = serializers.DateTimeField(read_only=True)
    draw_at = serializers.DateTimeField(read_only=True)
    purchase_window_minutes = serializers.IntegerField(read_only=True)
    registrations = serializers.IntegerField(read_only=True, help_text="Shoppers registered so far.")
    seed_sha256 = serializers.CharField(read_only=True, help_text="SHA-256 (hex) of the seed: published before registration closes.")
    seed = serializers.CharField(read_only=True, allow_null=True, help_text="Revealed at the draw; null before.")
    status = serializers.ChoiceField(choices=["registration", "drawn", "closed"], read_only=True)


class ProductPrioritySerializer(serializers.Serializer):
    """Holders of any listed collectible may order from `starts_at`, before `sale_starts_at`."""

    holders_of = serializers.ListField(child=serializers.IntegerField(), read_only=True, help_text="Collectible product ids.")
    starts_at = serializers.DateTimeField(read_only=True)


class ProductOutputSerializer(serializers.ModelSerializer):
    # The product's shape for the OpenAPI schema only (a comment, not a docstring, which would
    # become the schema's description); `product_output()` writes it.
    # `title` and `description` read the active language's column, falling back to English
    # (django-modeltranslation, apps/catalog/translation.py).
    title = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")
    title_zh = TranslationTextField(source="title_zh_hans", help_text="The Chinese title; empty when there is none.")
    description = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")
    exhibitor = ProductExhibitorSerializer(read_only=True)
    on_sale = serializers.BooleanField(read_only=True, help_text="Inside its sale window now.")
    remaining = serializers.IntegerField(read_only=True, allow_null=True, help_text="Units still for sale; null means unlimited.")
    edition_size = serializers.IntegerField(read_only=True, allow_null=True, help_text="Collectibles only; null for other kinds.")
    image = ProductImageSerializer(read_only=True, allow_null=True, help_text="The product's picture; null when it has none.")
    sale_mode = serializers.ChoiceField(choices=SaleMode.choices, read_only=True)
    ballot = ProductBallotSerializer(read_only=True, allow_null=True, help_text="Ballot drops only; null otherwise.")
    priority = ProductPrioritySerializer(read_only=True, allow_null=True, help_text="Holder priority; null when none.")
    components = ProductComponentSerializer(many=True, read_only=True, allow_null=True,
                                            help_text="Bundles only: the products one bundle contains; null for other kinds.")

    class Meta:
        model = Product
        fields = [
            "id",
            "slug",
            "kind",
            "title",
            "title_zh",
            "description",
            "exhibitor",
            "price",
            "currency",
            "on_sale",
            "sale_starts_at",
            "sale_ends_at",
            "per_customer_limit",
            "remaining",
            "edition_size",
            "image",
            "sale_mode",
            "ballot",
            "priority",
            "components",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Product) -> dict[str, Any]:
        return product_output(instance)


# Columns `product_output` reads: the list and detail views load only these (`.only(*PRODUCT_COLUMNS)`).
PRODUCT_COLUMNS = (
    "id", "slug", "kind", "title_en", "title_zh_hans", "description_en", "description_zh_hans", "price", "currency",
    "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "image",
    "exhibitor", "exhibitor__slug", "exhibitor__name_en", "exhibitor__name_zh_hans",
    "sale_mode", "ballot__registration_starts_at", "ballot__registration_ends_at", "ballot__draw_at",
    "ballot__purchase_window_minutes", "ballot__registrations_count", "ballot__seed", "ballot__seed_sha256",
    "ballot__status", "priority__starts_at",
)


def product_output(product: Product) -> dict[str, Any]:
    """A catalog product as API.md gives it, from a row of `selectors.product_list_public()` (its
    `on_sale` and `remaining` annotations, the joined exhibitor). Issues no query."""
    exhibitor = product.exhibitor
    return {
        "id": product.pk,
        "slug": product.slug,
        "kind": product.kind,
        "title": product.title,
        "title_zh": product.title_zh_hans or "",  # type: ignore[attr-defined]  # modeltranslation column
        "description": product.description,
        "exhibitor": {"slug": exhibitor.slug, "name": exhibitor.name},
        "price": product.price,
        "currency": product.currency,
        "on_sale": bool(product.on_sale),  # type: ignore[attr-defined]  # selector annotation
        "sale_starts_at": iso_datetime(product.sale_starts_at),
        "sale_ends_at": iso_datetime(product.sale_ends_at),
        "per_customer_limit": product.per_customer_limit,
        "remaining": product.remaining,  # type: ignore[attr-defined]  # selector annotation
        "edition_size": product.edition_size,
        "image": images.image_urls(product.image.name),
        "sale_mode": product.sale_mode,
        "ballot": _ballot_output(product),
        "priority": _priority_output(product),
        "components": (bundle_components_output(product.components_json)  # type: ignore[attr-defined]  # selector annotation
                       if product.kind == ProductKind.BUNDLE else None),
    }


def _related(product: Product, name: str) -> Any:
    # The reverse one-to-ones are joined by the selector: a missing row is cached as absent.
    try:
        return getattr(product, name)
    except ObjectDoesNotExist:
        return None


def _ballot_output(product: Product) -> dict[str, Any] | None:
    ballot = _related(product, "ballot") if product.sale_mode == SaleMode.BALLOT else None
    if ballot is None:
        return None
    return {
        "registration_starts_at": iso_datetime(ballot.registration_starts_at),
        "registration_ends_at": iso_datetime(ballot.registration_ends_at),
        "draw_at": iso_datetime(ballot.draw_at),
        "purchase_window_minutes": ballot.purchase_window_minutes,
        "registrations": ballot.registrations_count,
        "seed_sha256": ballot.seed_sha256,
        "seed": ballot.seed if ballot.status != BallotStatus.REGISTRATION else None,
        "status": ballot.status,
    }


def _priority_output(product: Product) -> dict[str, Any] | None:
    priority = _related(product, "priority")
    holders = getattr(product, "priority_holders", None)  # selector annotation
    if priority is None or not holders:
        return None
    return {"holders_of": list(holders), "starts_at": iso_datetime(priority.starts_at)}


class SlotOutputSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(source="remaining_places", read_only=True, help_text="Places still free.")

    class Meta:
        model = ServiceSlot
        fields = ["id", "starts_at", "ends_at", "capacity", "remaining"]
        read_only_fields = fields
