from django.urls import path

from apps.fulfilment.booth import views

app_name = "booth"

urlpatterns = [
    path("", views.booth, name="page"),
    path("sw.js", views.service_worker, name="service-worker"),
]
