"""Public exhibitor directory: one view per action, read-only, open to anonymous shoppers."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.permissions import AllowAny

from apps.exhibitors import selectors
from apps.exhibitors.api.filters import ExhibitorFilter
from apps.exhibitors.api.serializers import ExhibitorOutputSerializer
from apps.exhibitors.models import Exhibitor
from marketplace.api.filters import FilterBackend


@extend_schema_view(get=extend_schema(tags=["catalog"], summary="List approved exhibitors", operation_id="exhibitors_list"))
class ExhibitorListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ExhibitorOutputSerializer
    filter_backends = [FilterBackend]
    filterset_class = ExhibitorFilter
    ordering = "slug"  # read by marketplace.api.pagination.CursorPagination; slugs are unique

    def get_queryset(self) -> QuerySet[Exhibitor]:
        return selectors.exhibitor_list_public()


@extend_schema_view(get=extend_schema(tags=["catalog"], summary="One approved exhibitor", operation_id="exhibitors_retrieve"))
class ExhibitorDetailView(generics.RetrieveAPIView):
    """Pending and suspended exhibitors answer 404, like unknown slugs."""

    permission_classes = [AllowAny]
    serializer_class = ExhibitorOutputSerializer
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Exhibitor]:
        return selectors.exhibitor_list_public()
