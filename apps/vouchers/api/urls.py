from django.urls import path

from apps.vouchers.api import views

urlpatterns = [
    path("voucher-campaigns/", views.CampaignListView.as_view(), name="voucher-campaigns"),
    path("voucher-campaigns/<slug:slug>/claim", views.CampaignClaimView.as_view(), name="voucher-campaign-claim"),
    path("vouchers/", views.VoucherListView.as_view(), name="vouchers"),
]
