"""A bundle's components in the product output (API.md "Bundles"): declared here for the schema,
written by `bundle_components_output` from the selector's `components_json` annotation
(apps.catalog.selectors), so a catalog page still costs one query."""

from typing import Any

from django.utils import translation
from rest_framework import serializers


class ComponentExhibitorSerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")


class ComponentProductSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")
    exhibitor = ComponentExhibitorSerializer(read_only=True)


class ProductComponentSerializer(serializers.Serializer):
    product = ComponentProductSerializer(read_only=True)
    quantity = serializers.IntegerField(read_only=True, help_text="Units of the product in one bundle.")
    share_bps = serializers.IntegerField(read_only=True, help_text="Part of the bundle's price paid for it, in basis "
                                                                   "points; a bundle's shares sum to 10,000.")


def _in_language(english: str | None, chinese: str | None) -> str:
    """The active language's text, English when there is no Chinese (modeltranslation's fallback)."""
    language = (translation.get_language() or "en").lower()
    return (chinese if language.startswith("zh") and chinese else english) or ""


def bundle_components_output(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The `components` of a bundle from its `components_json` annotation (a JSON list)."""
    return [
        {
            "product": {
                "id": row["id"],
                "title": _in_language(row["title_en"], row["title_zh_hans"]),
                "exhibitor": {"slug": row["exhibitor_slug"],
                              "name": _in_language(row["exhibitor_name_en"], row["exhibitor_name_zh_hans"])},
            },
            "quantity": row["quantity"],
            "share_bps": row["share_bps"],
        }
        for row in rows or []
    ]
