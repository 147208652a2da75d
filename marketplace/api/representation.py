"""Helpers for serializers that write their output directly (see ProductOutputSerializer)."""

from datetime import datetime

from rest_framework import serializers

_DATETIME = serializers.DateTimeField()


def iso_datetime(value: datetime | None) -> str | None:
    """A datetime exactly as every DateTimeField of the API writes it (DRF settings, time zone)."""
    return None if value is None else _DATETIME.to_representation(value)
