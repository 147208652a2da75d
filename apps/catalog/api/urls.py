from django.urls import path

from apps.catalog.api import ballots, views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<int:id>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("products/<int:id>/slots/", views.ProductSlotListView.as_view(), name="product-slot-list"),
    path("products/<int:id>/ballot/", ballots.BallotStandingView.as_view(), name="product-ballot"),
    path("products/<int:id>/ballot/register", ballots.BallotRegisterView.as_view(), name="product-ballot-register"),
    path("products/<int:id>/ballot/draw", ballots.BallotDrawView.as_view(), name="product-ballot-draw"),
]
