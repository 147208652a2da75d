from django.urls import path

from apps.payments.api import orders, views

urlpatterns = [
    # The shopper's order endpoints live in payments (they involve the order's payment): API.md paths.
    path("orders/", orders.OrderListCreateView.as_view(), name="orders"),
    path("orders/<str:order_id>/", orders.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:order_id>/cancel", orders.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<str:order_id>/payment", orders.OrderPaymentView.as_view(), name="order-payment"),
    path("orders/<str:order_id>/payment/simulate", orders.OrderPaymentSimulateView.as_view(),
         name="order-payment-simulate"),
    path("payments/stripe/webhook/", views.StripeWebhookView.as_view(), name="stripe-webhook"),
]
