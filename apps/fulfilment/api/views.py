"""What shoppers own (API.md): library, downloads, certificates, passes. Transport only."""

from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.fulfilment import selectors, services
from apps.fulfilment.api.serializers import (
    CertificateSerializer,
    LibraryItemSerializer,
    PassRedeemInputSerializer,
    PassRedeemOutputSerializer,
)
from apps.fulfilment.models import Entitlement
from marketplace.api.pagination import CursorPagination


class LibraryView(GenericAPIView):
    """The shopper's entitlements, newest first (cursor-paginated)."""

    pagination_class = CursorPagination
    queryset = Entitlement.objects.none()  # for the schema only
    ordering = ("-created_at", "-id")

    @extend_schema(tags=["library"], operation_id="library_list", responses=LibraryItemSerializer(many=True))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(selectors.library_for_user(user=request.user))
        return self.get_paginated_response(LibraryItemSerializer(page, many=True, context={"request": request}).data)


class DownloadView(APIView):
    """Streams a purchased file through a signed, expiring, count-limited link (owner only)."""

    @extend_schema(tags=["library"], operation_id="download_retrieve",
                   responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="not_found"),
                              410: OpenApiResponse(description="link_expired, downloads_exhausted or revoked")})
    def get(self, request: Request, token: str, *args: Any, **kwargs: Any) -> FileResponse:
        _entitlement, download_file = services.download_consume(token=token, user=request.user)
        return FileResponse(download_file.file.open("rb"), as_attachment=True, filename=download_file.name)


class CertificateView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(tags=["certificates"], operation_id="certificate_retrieve", responses=CertificateSerializer)
    def get(self, request: Request, code: str, *args: Any, **kwargs: Any) -> Response:
        return Response(CertificateSerializer(selectors.certificate_get(code=code)).data)


class CertificateQrView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(tags=["certificates"], operation_id="certificate_qr", responses={(200, "image/svg+xml"): OpenApiTypes.STR})
    def get(self, request: Request, code: str, *args: Any, **kwargs: Any) -> HttpResponse:
        from django.urls import reverse

        url = request.build_absolute_uri(reverse("v1:certificate-detail", kwargs={"version": "v1", "code": code}))
        return HttpResponse(selectors.certificate_qr_svg(code=code, url=url), content_type="image/svg+xml")


class PassQrView(APIView):
    @extend_schema(tags=["library"], operation_id="pass_qr", responses={(200, "image/svg+xml"): OpenApiTypes.STR})
    def get(self, request: Request, entitlement_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(selectors.pass_qr_svg(user=request.user, entitlement_id=entitlement_id), content_type="image/svg+xml")


class PassRedeemView(APIView):
    @extend_schema(tags=["passes"], operation_id="pass_redeem", request=PassRedeemInputSerializer,
                   responses={200: PassRedeemOutputSerializer, 404: OpenApiResponse(description="not_found"),
                              409: OpenApiResponse(description="already_redeemed, pass_revoked or pass_not_valid_now")})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PassRedeemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entitlement = services.pass_redeem(token=serializer.validated_data["token"], user=request.user)
        return Response(PassRedeemOutputSerializer(entitlement).data)
