"""URL map for config.settings.bench: the project's URLs plus the ceiling views of bench/views.py."""

from django.urls import path

from bench.views import MinimalProductListView, bare_booking, bare_purchase
from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("bench/minimal/products/", MinimalProductListView.as_view(), name="bench-minimal-products"),
    path("bench/bare/orders/", bare_purchase, name="bench-bare-purchase"),
    path("bench/bare/bookings/", bare_booking, name="bench-bare-booking"),
    *project_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
