"""URL map. The public API is versioned under /api/<version>/ (URLPathVersioning)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.accounts.signup import signup_view
from marketplace.api.health import health_view
from marketplace.metrics import metrics_view

api_v1 = [
    path("", include("apps.exhibitors.api.urls")),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.vouchers.api.urls")),
    path("", include("apps.payments.api.urls")),
    path("", include("apps.fulfilment.api.urls")),
    path("", include("apps.fulfilment.booth.api_urls")),
    path("", include("apps.operations.api.urls")),
]

# The admin home page: the booth's day (apps/operations/dashboard; UNFOLD["DASHBOARD_CALLBACK"]).
admin.site.index_template = "admin/dashboard.html"

urlpatterns = [
    # Before the admin's own URLs, whose catch-all would answer these.
    path("admin/reports/", include("apps.operations.dashboard.urls")),
    path("admin/", admin.site.urls),
    path("ops/", include("apps.operations.urls")),
    # The simulated payment provider's stand-in for Stripe's hosted onboarding (offline mode).
    path("simulated/", include("apps.payments.urls")),
    path("booth/", include("apps.fulfilment.booth.urls")),
    # Pages behind the links shoppers receive: /certificates/<code>/, /bookings/<token>/, /goods/<token>/.
    path("", include("apps.fulfilment.public.urls")),
    # Signup that answers a known email as a new one (apps/accounts/signup.py), ahead of allauth's.
    path("_allauth/app/v1/auth/signup", signup_view, name="accounts-signup"),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/<version>/", include((api_v1, "api"), namespace="v1")),
    # API.md: /api/schema/ and /api/docs/ (DEFAULT_VERSION makes the unversioned path resolve v1).
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # GET only: DRF's OPTIONS answer cannot be rendered by these HTML views (it was a 500).
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]),
         name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", http_method_names=["get", "head"]),
         name="api-redoc"),
    path("health/", health_view, name="health"),
    # Prometheus metrics for the scraper only: a bearer token or an allowed network, else 404.
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]

if settings.SERVE_PUBLIC_MEDIA:
    # `make run` (DEBUG on or off) and the browser tests: public media only (product images);
    # paid files live in the private storage, outside MEDIA_ROOT. Production serves its storage.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", lambda request, path: serve(request, path, document_root=str(settings.MEDIA_ROOT)),
                name="public-media"),
    ]

handler400 = "marketplace.api.handlers.bad_request"
handler404 = "marketplace.api.handlers.not_found"
handler500 = "marketplace.api.handlers.server_error"
