"""Output serializers for the public catalog (API.md "Catalog (public)").

They read the annotations of apps.catalog.selectors (`remaining`, `on_sale`, `remaining_places`)
and the joined exhibitor, so serializing a page issues no query per row.

`ProductOutputSerializer` declares its fields the usual way (they make the OpenAPI schema and
stay the reference) but writes each product with one dict display instead of DRF's per-field walk,
which cost ≈0.1 ms a row (half of a 100-product page, bench S3 profile).
tests/catalog/test_api_products.py proves the two give the same output for every kind,
language and sale window.
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

    # Columns the output reads: the list and detail views load only these (`.only(*COLUMNS)`).
    COLUMNS = (
        "id", "slug", "kind", "title_en", "title_zh_hans", "description_en", "description_zh_hans", "price", "currency",
        "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "image",
        "exhibitor", "exhibitor__slug", "exhibitor__name_en", "exhibitor__name_zh_hans",
    )

    def to_representation(self, instance: Product) -> dict[str, Any]:
        exhibitor = instance.exhibitor
        return {
            "id": instance.pk,
            "slug": instance.slug,
            "kind": instance.kind,
            "title": instance.title,
            "title_zh": instance.title_zh_hans or "",  # type: ignore[attr-defined]  # modeltranslation column
            "description": instance.description,
            "exhibitor": {"slug": exhibitor.slug, "name": exhibitor.name},
            "price": instance.price,
            "currency": instance.currency,
            "on_sale": bool(instance.on_sale),  # type: ignore[attr-defined]  # selector annotation
            "sale_starts_at": iso_datetime(instance.sale_starts_at),
            "sale_ends_at": iso_datetime(instance.sale_ends_at),
            "per_customer_limit": instance.per_customer_limit,
            "remaining": instance.remaining,  # type: ignore[attr-defined]  # selector annotation
            "edition_size": instance.edition_size,
            "image": images.image_urls(instance.image.name),
        }


class SlotOutputSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(source="remaining_places", read_only=True, help_text="Places still free.")

    class Meta:
        model = ServiceSlot
        fields = ["id", "starts_at", "ends_at", "capacity", "remaining"]
        read_only_fields = fields
