"""Output serializers for the public exhibitor directory (API.md "Catalog (public)")."""

from rest_framework import serializers

from apps.exhibitors.models import Exhibitor
from marketplace.api.representation import TranslationTextField


class ExhibitorOutputSerializer(serializers.ModelSerializer):
    # `name` and `description` read the active language's column, falling back to English
    # (django-modeltranslation, apps/exhibitors/translation.py).
    name = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")
    name_zh = TranslationTextField(source="name_zh_hans", help_text="The Chinese name; empty when there is none.")
    description = serializers.CharField(read_only=True, help_text="In the request's language (Accept-Language), else English.")

    class Meta:
        model = Exhibitor
        fields = ["slug", "name", "name_zh", "hall", "booth", "description"]
        read_only_fields = fields
