from django.urls import path

from apps.fulfilment.api import views

urlpatterns = [
    path("library/", views.LibraryView.as_view(), name="library"),
    path("downloads/<str:token>", views.DownloadView.as_view(), name="download"),
    path("certificates/<str:code>/", views.CertificateView.as_view(), name="certificate-detail"),
    path("certificates/<str:code>/qr.svg", views.CertificateQrView.as_view(), name="certificate-qr"),
    path("passes/<int:entitlement_id>/qr.svg", views.PassQrView.as_view(), name="pass-qr"),
    path("passes/redeem", views.PassRedeemView.as_view(), name="pass-redeem"),
]
