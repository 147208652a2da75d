"""Helpers for serializers that write their output directly (see ProductOutputSerializer)."""

from datetime import datetime
from typing import Any

from rest_framework import serializers

_DATETIME = serializers.DateTimeField()


def iso_datetime(value: datetime | None) -> str | None:
    """A datetime exactly as every DateTimeField of the API writes it (DRF settings, time zone)."""
    return None if value is None else _DATETIME.to_representation(value)


class TranslationTextField(serializers.CharField):
    """One language's column of a translated text (django-modeltranslation, e.g. `title_zh_hans`).

    NULL means "not translated"; the API writes it as "" (the field is a string in the contract).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        return super().get_attribute(instance) or ""
