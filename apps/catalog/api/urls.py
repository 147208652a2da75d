from django.urls import path

from apps.catalog.api import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<int:id>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("products/<int:id>/slots/", views.ProductSlotListView.as_view(), name="product-slot-list"),
]
