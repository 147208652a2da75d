"""JSON 400/404/500 for everything under /api/ and /_allauth/ (DEPENDENCIES.md §2.3); HTML elsewhere.

DRF views already answer in the contract's shape; these cover URLs that match no route and
errors that escape a view. `error_response` is the one builder of a bare error in the contract's
shape, shared with the input guard (marketplace/api/guard.py).
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults

_API_PREFIXES = ("/api/", "/_allauth/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(_API_PREFIXES)


def is_api_path(path: str) -> bool:
    """True for the paths that answer JSON only: /api/ and /_allauth/."""
    return path.startswith(_API_PREFIXES)


def error_body(*, type_: str, code: str, detail: str) -> dict[str, Any]:
    return {"type": type_, "errors": [{"code": code, "detail": detail, "attr": None}]}


# The code and detail of a bare error status, as DRF would name it (drf-standardized-errors'
# codes where it has one), for answers that no view wrote: an empty 405, a debug page, a refusal
# before any view.
_STATUS_ERRORS: dict[int, tuple[str, Any]] = {
    400: ("bad_request", _("The request could not be understood.")),
    401: ("not_authenticated", _("Authentication credentials were not provided.")),
    403: ("permission_denied", _("You do not have permission to perform this action.")),
    404: ("not_found", _("Not found.")),
    405: ("method_not_allowed", _("This method is not allowed here.")),
    406: ("not_acceptable", _("Could not satisfy the request Accept header.")),
    409: ("conflict", _("The request conflicts with the current state.")),
    410: ("gone", _("This is no longer available.")),
    413: ("request_too_large", _("The request body is too large.")),
    415: ("unsupported_media_type", _("Unsupported media type in the request.")),
    429: ("throttled", _("Request was throttled.")),
}


def error_response(status: int, *, code: str | None = None, detail: Any = None) -> JsonResponse:
    """A JSON error in the contract's shape for `status`: `code` and `detail` default to the
    status's own (`not_found`, `method_not_allowed`, ...; any 5xx is `server_error` / `error`)."""
    if status >= 500:
        default_code, default_detail, type_ = "error", _("A server error occurred."), "server_error"
    else:
        default_code, default_detail = _STATUS_ERRORS.get(status, ("error", _("The request could not be understood.")))
        type_ = "client_error"
    body = error_body(type_=type_, code=code or default_code, detail=str(detail or default_detail))
    return JsonResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django's answer to a SuspiciousOperation outside a view (DEBUG off)."""
    if _is_api(request):
        return error_response(413 if isinstance(exception, RequestDataTooBig) else 400)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body(type_="client_error", code="not_found", detail="Not found."), status=404)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        body = error_body(type_="server_error", code="error", detail="A server error occurred.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
