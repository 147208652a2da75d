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

from rest_framework import serializers

from apps.catalog import images
from apps.catalog.models import Product, ServiceSlot
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
        ]
        read_only_fields = fields

    def to_representation(self, instance: Product) -> dict[str, Any]:
        return product_output(instance)


# Columns `product_output` reads: the list and detail views load only these (`.only(*PRODUCT_COLUMNS)`).
PRODUCT_COLUMNS = (
    "id", "slug", "kind", "title_en", "title_zh_hans", "description_en", "description_zh_hans", "price", "currency",
    "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "image",
    "exhibitor", "exhibitor__slug", "exhibitor__name_en", "exhibitor__name_zh_hans",
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
    }


class SlotOutputSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(source="remaining_places", read_only=True, help_text="Places still free.")

    class Meta:
        model = ServiceSlot
        fields = ["id", "starts_at", "ends_at", "capacity", "remaining"]
        read_only_fields = fields
