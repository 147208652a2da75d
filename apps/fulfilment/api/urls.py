from django.urls import path

from apps.fulfilment.api import gifts, views

urlpatterns = [
    path("library/", views.LibraryView.as_view(), name="library"),
    path("library/<int:entitlement_id>/", views.LibraryItemView.as_view(), name="library-item"),
    path("library/<int:entitlement_id>/transfer", gifts.LibraryTransferView.as_view(), name="library-transfer"),
    path("downloads/<str:token>", views.DownloadView.as_view(), name="download"),
    path("certificates/<str:code>/", views.CertificateView.as_view(), name="certificate-detail"),
    path("certificates/<str:code>/qr.svg", views.CertificateQrView.as_view(), name="certificate-qr"),
    path("certificates/<str:code>/qr.png", views.CertificateQrPngView.as_view(), name="certificate-qr-png"),
    # The owner, with their session (API.md); the int converter leaves signed links to the routes below.
    path("passes/<int:entitlement_id>/qr.svg", views.PassQrView.as_view(), name="pass-qr"),
    path("passes/<int:entitlement_id>/qr.png", views.PassQrPngView.as_view(), name="pass-qr-png"),
    # Signed links (library `pass.qr_svg_url` / `qr_png_url`): open without a header, e.g. from an email.
    path("passes/<str:link>/qr.svg", views.PassQrLinkView.as_view(), name="pass-qr-link-svg"),
    path("passes/<str:link>/qr.png", views.PassQrLinkPngView.as_view(), name="pass-qr-link-png"),
    path("passes/redeem", views.PassRedeemView.as_view(), name="pass-redeem"),
]
