"""Output serializers for the public catalog (API.md "Catalog (public)").

They read the annotations of apps.catalog.selectors (`remaining`, `on_sale`, `remaining_places`)
and the joined exhibitor, so serializing a page issues no query per row.
"""

from rest_framework import serializers

from apps.catalog.models import Product, ServiceSlot
from apps.exhibitors.models import Exhibitor


class ProductExhibitorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exhibitor
        fields = ["slug", "name"]
        read_only_fields = fields


class ProductOutputSerializer(serializers.ModelSerializer):
    title = serializers.CharField(
        source="localized_title", read_only=True, help_text="In the request's language (Accept-Language)."
    )
    description = serializers.CharField(
        source="localized_description", read_only=True, help_text="In the request's language (Accept-Language)."
    )
    exhibitor = ProductExhibitorSerializer(read_only=True)
    on_sale = serializers.BooleanField(read_only=True, help_text="Inside its sale window now.")
    remaining = serializers.IntegerField(read_only=True, allow_null=True, help_text="Units still for sale; null means unlimited.")
    edition_size = serializers.IntegerField(read_only=True, allow_null=True, help_text="Collectibles only; null for other kinds.")

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
        ]
        read_only_fields = fields


class SlotOutputSerializer(serializers.ModelSerializer):
    remaining = serializers.IntegerField(source="remaining_places", read_only=True, help_text="Places still free.")

    class Meta:
        model = ServiceSlot
        fields = ["id", "starts_at", "ends_at", "capacity", "remaining"]
        read_only_fields = fields
