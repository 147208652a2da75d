"""The booth's API routes, mounted under /api/v1/ (config/urls.py)."""

from django.urls import path

from apps.fulfilment.booth import api

urlpatterns = [
    path("passes/lookup", api.PassLookupView.as_view(), name="pass-lookup"),
    path("passes/redeem-batch", api.PassRedeemBatchView.as_view(), name="pass-redeem-batch"),
    path("passes/roster", api.PassRosterView.as_view(), name="pass-roster"),
]
