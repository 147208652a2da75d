"""What shoppers own (API.md): library, downloads, certificates, passes. Transport only.

Links handed to shoppers open without a header (their signed token is the credential); responses
that carry such links or pass tokens are `Cache-Control: no-store`.
"""

from typing import Any, cast

from django.http import FileResponse, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.fulfilment import links, qr, selectors, services
from apps.fulfilment.api.serializers import (
    CertificateSerializer,
    LibraryItemSerializer,
    PassRedeemInputSerializer,
    PassRedeemOutputSerializer,
)
from apps.fulfilment.errors import AlreadyRedeemed, DownloadsExhausted, EntitlementRevoked, LinkExpired, PassNotValidNow, PassRevoked
from apps.fulfilment.models import Entitlement
from apps.fulfilment.public.views import download_headers, link_refused_page, wants_html
from marketplace.api.pagination import CursorPagination
from marketplace.api.schema import error_responses
from marketplace.db.routing import replica_reads_view
from marketplace.errors import DomainError, NotFound

QR_RESPONSES: dict[Any, Any] = {(200, "image/svg+xml"): OpenApiTypes.BINARY,
                                (200, "image/png"): OpenApiTypes.BINARY}
# A signed pass QR link is never all digits: such a path is the owner's route, which needs the session.
PASS_LINK_RESPONSES: dict[Any, Any] = {**QR_RESPONSES, **error_responses(NotAuthenticated, NotFound, EntitlementRevoked)}


class NoStoreMixin(APIView):
    """Every response of the view (errors included) is `Cache-Control: no-store`: it carries a
    pass token or a link that is a credential, which no cache (shared or the browser's) may keep."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response


class PublicLinkMixin(NoStoreMixin):
    """A link opened in a browser or mail client: no session needed or consulted (the token in the
    URL is the credential). A browser gets a page for a refusal, an API client the JSON error."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError) and wants_html(self.request):
            return cast(Response, link_refused_page(self.request, exc))
        return super().handle_exception(exc)


class LibraryView(NoStoreMixin, GenericAPIView):
    """The shopper's entitlements, newest first (cursor-paginated)."""

    pagination_class = CursorPagination
    queryset = Entitlement.objects.none()  # for the schema only
    ordering = ("-created_at", "-id")

    @extend_schema(tags=["library"], operation_id="library_list", responses=LibraryItemSerializer(many=True))
    @replica_reads_view
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(selectors.library_for_user(user=request.user))
        return self.get_paginated_response(LibraryItemSerializer(page, many=True, context={"request": request}).data)


class LibraryItemView(NoStoreMixin, APIView):
    """One entitlement of the shopper, as in the library (e.g. to refresh its download links)."""

    @extend_schema(tags=["library"], operation_id="library_retrieve", responses=LibraryItemSerializer)
    @replica_reads_view
    def get(self, request: Request, entitlement_id: int, *args: Any, **kwargs: Any) -> Response:
        entitlement = selectors.library_item_get(user=request.user, entitlement_id=entitlement_id)
        return Response(LibraryItemSerializer(entitlement, context={"request": request}).data)


class DownloadView(PublicLinkMixin, APIView):
    """The file behind a library download link: signed, expiring, count-limited; no header needed.

    GET counts one download; HEAD (link previews, download managers probing) checks and counts nothing.
    """

    @extend_schema(tags=["library"], operation_id="download_retrieve",
                   responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                              **error_responses(NotFound, LinkExpired, DownloadsExhausted, EntitlementRevoked)})
    def get(self, request: Request, token: str, *args: Any, **kwargs: Any) -> FileResponse:
        _entitlement, download_file = services.download_consume(token=token)
        response = FileResponse(download_file.file.open("rb"))
        download_headers(response, download_file)
        return response

    def head(self, request: Request, token: str, *args: Any, **kwargs: Any) -> HttpResponse:
        _entitlement, download_file = services.download_check(token=token)
        response = HttpResponse()
        download_headers(response, download_file)
        return response


class CertificateView(APIView):
    """The certificate as JSON. A browser (Accept: text/html, e.g. a QR code printed before the
    public page existed) is sent to the public page instead."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(tags=["certificates"], operation_id="certificate_retrieve", responses=CertificateSerializer)
    @replica_reads_view
    def get(self, request: Request, code: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        certificate = selectors.certificate_get(code=code)
        if wants_html(request):
            return HttpResponseRedirect(links.certificate_page_url(code))
        return Response(CertificateSerializer(certificate).data)


class _QrView(APIView):
    fmt = "svg"

    def qr_response(self, data: str, *, title: str) -> HttpResponse:
        content, content_type = qr.qr_image(data, self.fmt, title=title)
        return HttpResponse(content, content_type=content_type)


class CertificateQrView(_QrView):
    """The certificate's QR code (encodes its public page URL); public."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(tags=["certificates"], operation_id="certificate_qr", responses=QR_RESPONSES)
    @replica_reads_view
    def get(self, request: Request, code: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.qr_response(selectors.certificate_qr_data(code=code), title="Certificate")


class CertificateQrPngView(CertificateQrView):
    fmt = "png"

    @extend_schema(tags=["certificates"], operation_id="certificate_qr_png", responses=QR_RESPONSES)
    def get(self, request: Request, code: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().get(request, code, *args, **kwargs)


class PassQrView(NoStoreMixin, _QrView):
    """The owner's pass QR code (encodes the pass token), with the owner's session."""

    @extend_schema(tags=["library"], operation_id="pass_qr", responses=QR_RESPONSES)
    def get(self, request: Request, entitlement_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.qr_response(selectors.pass_qr_data(user=request.user, entitlement_id=entitlement_id), title="Pass")


class PassQrPngView(PassQrView):
    fmt = "png"

    @extend_schema(tags=["library"], operation_id="pass_qr_png", responses=QR_RESPONSES)
    def get(self, request: Request, entitlement_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().get(request, entitlement_id, *args, **kwargs)


class PassQrLinkView(PublicLinkMixin, _QrView):
    """The pass QR code behind the library's signed `qr_svg_url` / `qr_png_url`: no header needed."""

    @extend_schema(tags=["library"], operation_id="pass_qr_link", responses=PASS_LINK_RESPONSES)
    def get(self, request: Request, link: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.qr_response(selectors.pass_qr_data_by_link(link=link), title="Pass")


class PassQrLinkPngView(PassQrLinkView):
    fmt = "png"

    @extend_schema(tags=["library"], operation_id="pass_qr_link_png", responses=PASS_LINK_RESPONSES)
    def get(self, request: Request, link: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().get(request, link, *args, **kwargs)


class PassRedeemView(APIView):
    @extend_schema(tags=["passes"], operation_id="pass_redeem", request=PassRedeemInputSerializer,
                   responses={200: PassRedeemOutputSerializer, **error_responses(NotFound, AlreadyRedeemed, PassRevoked, PassNotValidNow)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PassRedeemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entitlement = services.pass_redeem(token=serializer.validated_data["token"], user=request.user)
        return Response(PassRedeemOutputSerializer(entitlement).data)
