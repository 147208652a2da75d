from django.urls import path

from apps.orders.api import views

urlpatterns = [
    path("orders/", views.OrderListCreateView.as_view(), name="orders"),
    path("orders/<str:order_id>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:order_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<str:order_id>/payment", views.OrderPaymentView.as_view(), name="order-payment"),
    path("orders/<str:order_id>/payment/simulate", views.OrderPaymentSimulateView.as_view(), name="order-payment-simulate"),
]
