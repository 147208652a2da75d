from django.urls import path

from apps.payments.api import views

urlpatterns = [
    path("payments/stripe/webhook/", views.StripeWebhookView.as_view(), name="stripe-webhook"),
]
