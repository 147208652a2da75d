"""Translated labels the dashboard and the report share."""

from django.utils.functional import Promise

from apps.catalog.models import ProductKind


def kind_label(kind: str) -> Promise | str:
    """The product kind as people read it (the catalog's own translated choice labels)."""
    return dict(ProductKind.choices).get(kind, kind)
