"""Public catalog: products and service slots. One read-only view per action, open to anonymous
shoppers (the API default is IsAuthenticated, so each view opens itself). Read from a replica when
there is one (ReplicaReadsMixin, marketplace/db/routing.py)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.permissions import AllowAny

from apps.catalog import selectors
from apps.catalog.api.filters import ProductFilter
from apps.catalog.api.serializers import PRODUCT_COLUMNS, ProductOutputSerializer, SlotOutputSerializer
from apps.catalog.models import Product, ProductKind, ServiceSlot
from marketplace.api.filters import FilterBackend
from marketplace.db.routing import ReplicaReadsMixin

ACCEPT_LANGUAGE = OpenApiParameter(
    name="Accept-Language",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="`zh` (or `zh-Hans`, `zh-CN`) returns `title` and `description` in Chinese where the exhibitor gave them.",
)


@extend_schema_view(
    get=extend_schema(
        tags=["catalog"], summary="List products on the catalog", operation_id="products_list", parameters=[ACCEPT_LANGUAGE]
    )
)
class ProductListView(ReplicaReadsMixin, generics.ListAPIView):
    """Published products of approved exhibitors, newest first."""

    permission_classes = [AllowAny]
    serializer_class = ProductOutputSerializer
    filter_backends = [FilterBackend]
    filterset_class = ProductFilter
    ordering = "-id"  # unique and never changes: cursors stay valid under inserts

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list_public().only(*PRODUCT_COLUMNS)


@extend_schema_view(
    get=extend_schema(tags=["catalog"], summary="One product", operation_id="products_retrieve", parameters=[ACCEPT_LANGUAGE])
)
class ProductDetailView(ReplicaReadsMixin, generics.RetrieveAPIView):
    """Unpublished products and products of exhibitors not approved answer 404."""

    permission_classes = [AllowAny]
    serializer_class = ProductOutputSerializer
    lookup_field = "id"

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list_public().only(*PRODUCT_COLUMNS)


@extend_schema_view(
    get=extend_schema(
        tags=["catalog"],
        summary="Upcoming bookable slots of a service",
        operation_id="products_slots_list",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="A service product's id.")],
    )
)
class ProductSlotListView(ReplicaReadsMixin, generics.ListAPIView):
    """Upcoming slots in start order. A product that is not a public service answers 404."""

    permission_classes = [AllowAny]
    serializer_class = SlotOutputSerializer
    ordering = ("starts_at", "id")  # the cursor keys on starts_at; id makes ties deterministic

    def get_queryset(self) -> QuerySet[ServiceSlot]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no product in the URL
            return ServiceSlot.objects.none()
        product = get_object_or_404(selectors.product_list_public().filter(kind=ProductKind.SERVICE), id=self.kwargs["id"])
        return selectors.slot_list_public(product=product)
