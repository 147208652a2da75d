"""URL map. The public API is versioned under /api/<version>/ (URLPathVersioning)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from marketplace.api.health import health_view

api_v1 = [
    path("", include("apps.exhibitors.api.urls")),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.orders.api.urls")),
    path("", include("apps.payments.api.urls")),
    path("", include("apps.fulfilment.api.urls")),
    path("", include("apps.operations.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("ops/", include("apps.operations.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/<version>/", include((api_v1, "api"), namespace="v1")),
    # API.md: /api/schema/ and /api/docs/ (DEFAULT_VERSION makes the unversioned path resolve v1).
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("health/", health_view, name="health"),
    path("", include("django_prometheus.urls")),
]

handler404 = "marketplace.api.handlers.not_found"
handler500 = "marketplace.api.handlers.server_error"
