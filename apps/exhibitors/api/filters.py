"""Query filters for the public exhibitor list."""

import django_filters
from django.db.models import QuerySet

from apps.exhibitors import selectors
from apps.exhibitors.models import Exhibitor


class ExhibitorFilter(django_filters.FilterSet):
    hall = django_filters.CharFilter(field_name="hall", lookup_expr="iexact", max_length=20, help_text="Expo hall, e.g. H1.")
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, help_text="Words in the name (English or Chinese) or description."
    )

    class Meta:
        model = Exhibitor
        fields = ["hall", "search"]

    def filter_search(self, queryset: QuerySet[Exhibitor], name: str, value: str) -> QuerySet[Exhibitor]:
        return selectors.exhibitor_search(queryset, value)
