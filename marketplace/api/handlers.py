"""JSON 404/500 for everything under /api/ (DEPENDENCIES.md §2.3); HTML elsewhere.

DRF views already answer in the contract's shape; these cover URLs that match no route and
errors that escape a view.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

_API_PREFIXES = ("/api/", "/_allauth/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(_API_PREFIXES)


def error_body(*, type_: str, code: str, detail: str) -> dict[str, Any]:
    return {"type": type_, "errors": [{"code": code, "detail": detail, "attr": None}]}


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body(type_="client_error", code="not_found", detail="Not found."), status=404)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        body = error_body(type_="server_error", code="error", detail="A server error occurred.")
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
