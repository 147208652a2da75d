"""Pages for the links shoppers receive, in Chinese or English (Accept-Language, or ?lang=).

Each opens where it is opened (a phone's browser, a mail client): the signed token in the URL is
the credential, no session is read. Pages carrying credentials are `Cache-Control: no-store`
and send no Referer onwards. Transport only: the reads are in apps.fulfilment.selectors.
"""

from __future__ import annotations

import base64
import unicodedata
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from apps.catalog.models import DownloadFile, ProductKind
from apps.fulfilment import links, selectors, signing
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.db.routing import replica_reads_view
from marketplace.errors import DomainError, NotFound
from marketplace.urls import absolute_url

LANGUAGE_PARAM = "lang"

REFUSALS: dict[str, tuple[Any, Any]] = {
    "link_expired": (_("This link has expired"),
                     _("Download links work for a while after you open your library. Open your library, or the link in "
                       "your order email, again to get a fresh one.")),
    "downloads_exhausted": (_("No downloads left"),
                            _("You have used every download of this item. If a download failed, contact the exhibitor or our "
                              "support with your order number.")),
    "revoked": (_("This item was refunded"),
                _("It was removed from your library when the order was refunded, so its links no longer work.")),
    "not_found": (_("This link does not work"),
                  _("It may be incomplete: check that you opened the whole link, or open the item again from your library.")),
}


def wants_html(request: Any) -> bool:
    """A browser (Accept names text/html before JSON); API clients and `*/*` get JSON."""
    return bool(request.get_preferred_type(["application/json", "text/html"]) == "text/html")


def _language(request: HttpRequest) -> str:
    requested = (request.GET.get(LANGUAGE_PARAM) or "").lower()
    codes = [code for code, _name in settings.LANGUAGES]
    if requested in codes:
        return requested
    if requested.startswith("zh"):
        return "zh-hans"
    return translation.get_language() or settings.LANGUAGE_CODE


def page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200,
         no_store: bool = True) -> HttpResponse:
    """Render a shopper page in the request's language (?lang= wins over Accept-Language)."""
    language = _language(request)
    with translation.override(language):
        response = render(request, template, {**context, "languages": settings.LANGUAGES},
                          status=status)
    response["Content-Language"] = language
    patch_vary_headers(response, ["Accept-Language"])
    if no_store:
        add_never_cache_headers(response)
    return response


def not_found_page(request: HttpRequest) -> HttpResponse:
    return page(request, "fulfilment/not_found.html", {}, status=404)


def link_refused_page(request: Any, error: DomainError) -> HttpResponse:
    """The page a browser gets for a refused link (expired, used up, refunded, unknown)."""
    django_request = getattr(request, "_request", request)
    title, explanation = REFUSALS.get(error.code, REFUSALS["not_found"])
    return page(django_request, "fulfilment/link_refused.html",
                {"title": title, "explanation": explanation, "code": error.code}, status=error.status_code)


def attachment_disposition(filename: str) -> str:
    """`attachment; filename="<ASCII>"; filename*=UTF-8''<name>` (RFC 6266): the UTF-8 name for
    today's clients (Chinese names survive), an ASCII one for old ones."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable() and ch not in '"\\;').strip()
    stem, dot, extension = ascii_name.rpartition(".")
    if not (stem if dot else ascii_name).strip():
        ascii_name = f"download.{extension}" if dot and extension else "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_headers(response: HttpResponseBase, download_file: DownloadFile) -> None:
    """Name, type and disposition of a downloaded file (its extension kept, see download_filename)."""
    filename = selectors.download_filename(download_file)
    response["Content-Type"] = selectors.download_content_type(filename)
    response["Content-Disposition"] = attachment_disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    if download_file.size and not response.has_header("Content-Length"):
        response["Content-Length"] = str(download_file.size)


@require_safe
@replica_reads_view
def certificate_page(request: HttpRequest, code: str) -> HttpResponse:
    """A collectible's public certificate: what it is, whether it is valid, how to verify it."""
    try:
        info = selectors.certificate_page_get(code=code)
    except NotFound:
        return not_found_page(request)
    certificate = info.certificate
    signature = signing.decode_signature(certificate.signature) or b""
    return page(request, "fulfilment/certificate.html", {
        "info": info, "certificate": certificate, "page_url": links.certificate_page_url(code),
        "qr_svg": reverse("v1:certificate-qr", kwargs={"version": "v1", "code": code}),
        "qr_png": reverse("v1:certificate-qr-png", kwargs={"version": "v1", "code": code}),
        "signature_b64": base64.b64encode(signature).decode(),
        "api_url": absolute_url(reverse("v1:certificate-detail", kwargs={"version": "v1", "code": code})),
    }, no_store=False)


@require_safe
def booking_page(request: HttpRequest, token: str) -> HttpResponseBase:
    """A booking's access link: during the slot (from a few minutes early) the exhibitor's
    meeting; otherwise a page saying when it is, that it ended, or that it was cancelled."""
    try:
        access = selectors.booking_access_get(token=token)
    except NotFound:
        return not_found_page(request)
    if access.state == selectors.BookingState.OPEN and access.meeting_url:
        response = HttpResponseRedirect(access.meeting_url)
        add_never_cache_headers(response)
        return response
    early_minutes = int((access.starts_at - access.opens_at).total_seconds() // 60)
    return page(request, "fulfilment/booking.html", {"access": access, "early_minutes": early_minutes},
                status=410 if access.state == selectors.BookingState.CANCELLED else 200)


def _goods_item(entitlement: Entitlement) -> dict[str, Any]:
    from apps.fulfilment.services import download_token_make

    active = entitlement.status == EntitlementStatus.ACTIVE
    item: dict[str, Any] = {"entitlement": entitlement, "active": active, "kind": entitlement.kind,
                            "title": selectors.localized(entitlement.product, "title"),
                            "exhibitor": selectors.localized(entitlement.exhibitor, "name")}
    if not active:
        return item
    if entitlement.kind == ProductKind.COLLECTIBLE and entitlement.certificate_code:
        item["certificate_url"] = links.certificate_page_url(entitlement.certificate_code)
    elif entitlement.kind == ProductKind.SERVICE and entitlement.slot is not None:
        item["booking_url"] = links.booking_url(entitlement)
    elif entitlement.kind == ProductKind.DOWNLOAD:
        item["files"] = [{"name": selectors.download_filename(f),
                          "url": links.download_url(token=download_token_make(entitlement=entitlement, file_id=f.pk))}
                         for f in entitlement.product.files.all()]
        item["licence_key"] = entitlement.licence_key.key if entitlement.licence_key is not None else ""
    elif entitlement.kind == ProductKind.PASS:
        item["qr_svg_url"] = links.pass_qr_url(entitlement, "svg")
        item["qr_png_url"] = links.pass_qr_url(entitlement, "png")
    return item


@require_safe
def goods_page(request: HttpRequest, token: str) -> HttpResponse:
    """One order's goods (the confirmation email's link): fresh download links, the booking, pass
    QR codes and certificates, without signing in. Refunded units say so."""
    try:
        order, entitlements = selectors.goods_get(token=token)
    except NotFound:
        return not_found_page(request)
    return page(request, "fulfilment/goods.html", {"order": order, "items": [_goods_item(e) for e in entitlements]})
