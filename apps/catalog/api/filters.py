"""Query filters for the public product list (API.md "Catalog (public)").

Every parameter is validated by its form field, so an unknown kind, an unknown exhibitor slug
or an `available` other than true/false answers 400 with the parameter as `attr`.
"""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields

from apps.catalog import selectors
from apps.catalog.models import Product, ProductKind
from apps.exhibitors.selectors import exhibitor_list_public


class _SlugModelChoiceField(filter_fields.ModelChoiceField):
    """Refuses anything that is not slug-shaped before the lookup query (a NUL byte would
    otherwise reach Postgres and answer 500)."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not slug_re.fullmatch(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class ExhibitorSlugFilter(django_filters.ModelChoiceFilter):
    field_class = _SlugModelChoiceField


class _NoEmptyChoiceForm(forms.Form):
    """A choice parameter sent empty (`?kind=`) is refused like any value outside its choices,
    instead of silently meaning "no filter": the schema's enum has no empty value."""

    CHOICE_PARAMETERS = ("kind", "exhibitor", "available")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in self.CHOICE_PARAMETERS:
            if self.data.get(name, None) == "":
                self.add_error(name, ValidationError(_("Select a valid choice. That choice is not one of the available choices."),
                                                     code="invalid_choice"))
        return cleaned


class ProductFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ProductKind.choices, help_text="Only products of this kind.")
    exhibitor = ExhibitorSlugFilter(
        field_name="exhibitor",
        to_field_name="slug",
        queryset=exhibitor_list_public(),
        help_text="Exhibitor slug; an unknown or unapproved exhibitor answers 400.",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text="Matches the slug, the title or description (English or Chinese) or the exhibitor name.",
    )
    available = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_available",
        help_text="true: on sale now and not sold out; false: the others.",
    )

    class Meta:
        model = Product
        fields = ["kind", "exhibitor", "search", "available"]
        form = _NoEmptyChoiceForm

    def filter_search(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        return selectors.product_search(queryset, value)

    def filter_available(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        if value == "true":
            return selectors.product_filter_available(queryset)
        return selectors.product_filter_unavailable(queryset)
