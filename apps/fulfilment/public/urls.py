"""Pages behind the links a shopper receives; mounted at the site root (config/urls.py)."""

from django.urls import path

from apps.fulfilment.public import views

app_name = "fulfilment-pages"

urlpatterns = [
    path("certificates/<str:code>/", views.certificate_page, name="certificate"),
    path("bookings/<str:token>/", views.booking_page, name="booking"),
    path("goods/<str:token>/", views.goods_page, name="goods"),
]
