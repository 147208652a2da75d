from django.urls import path

from apps.exhibitors.api import views

urlpatterns = [
    path("exhibitors/", views.ExhibitorListView.as_view(), name="exhibitor-list"),
    path("exhibitors/<slug:slug>/", views.ExhibitorDetailView.as_view(), name="exhibitor-detail"),
]
