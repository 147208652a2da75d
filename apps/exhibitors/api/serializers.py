"""Output serializers for the public exhibitor directory (API.md "Catalog (public)")."""

from rest_framework import serializers

from apps.exhibitors.models import Exhibitor


class ExhibitorOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Exhibitor
        fields = ["slug", "name", "name_zh", "hall", "booth", "description"]
        read_only_fields = fields
