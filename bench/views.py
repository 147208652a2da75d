"""S3's ceiling: the same product rows as GET /api/v1/products/, as plain dicts, from a bare DRF view.

It runs the catalog selector's query (same filters, annotations, ordering and LIMIT page+1 as the
cursor paginator) but skips what the real endpoint adds on top: authentication, throttling,
django-filter, cursor encoding and the ModelSerializer. The ratio real/minimal is what that costs.
"""

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog import selectors

COLUMNS = (
    "id", "slug", "kind", "title", "title_zh_hans", "description", "exhibitor__slug", "exhibitor__name", "price",
    "currency", "on_sale", "sale_starts_at", "sale_ends_at", "per_customer_limit", "remaining", "edition_size",
)


class MinimalProductListView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        size = min(max(int(request.query_params.get("page_size", 20)), 1), 100)
        rows = list(selectors.product_list_public().order_by("-id").values(*COLUMNS)[: size + 1])
        return Response({"next": None, "previous": None, "results": rows[:size]})
