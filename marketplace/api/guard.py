"""The input guard: malformed input under /api/ and /_allauth/ gets a 4xx in the contract's shape,
never a server error or an HTML page, and reaches no view.

Before any view (and before allauth headless, which parses `request.body` with `json.loads`
itself), for requests that carry a body:

- a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 `request_too_large`, announced
  (Content-Length) or chunked (read up to the limit when the server de-chunks it, as gunicorn
  does; the body read is then handed on as if it had come with a Content-Length);
- a JSON body (DRF parses a body as JSON when its media type matches application/json, wildcards
  included; allauth parses every body) must be strict JSON (no NaN/Infinity, no integer of more
  than Python's 4,300 digits), nested at most MAX_DEPTH levels, with no unpaired UTF-16
  surrogate escape (`"\\ud800"`, which can be neither stored nor encoded as UTF-8): else 400
  `parse_error`. Depth is measured on the bracket skeleton without recursion, before the body is
  parsed, so a 5,000-deep body never reaches a recursive parser.

After the view, answers that no view wrote in JSON become the contract's shape: an empty error
(Django's 405, allauth's bare 400), any 405 (an HTML view's), an unmatched path (Django's technical 404 page when DEBUG is
on, which skips handler404), a debug page for a 5xx, or a non-GET to a path that only matches with
a slash appended (Django's APPEND_SLASH raises a RuntimeError for those under DEBUG).
"""

import json
import re
from array import array
from collections.abc import Callable
from io import BytesIO
from itertools import accumulate
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.translation import gettext_lazy as _
from rest_framework.utils.mediatypes import media_type_matches

from marketplace.api.handlers import error_response, is_api_path

logger = structlog.get_logger(__name__)

MAX_DEPTH = 64
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ALLAUTH_PREFIX = "/_allauth/"

# A JSON string (escapes included), then everything that is not a bracket: what is left of a
# body is its bracket skeleton, whose running sum of +1 ([ {) and -1 (] }) is the nesting depth.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # read as signed bytes: +1 and -1


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it (no recursion;
    brackets inside strings do not count). For text that is not JSON, an upper bound of what a
    parser would reach before failing."""
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text)).encode("ascii").translate(_SIGNS)
    return max(accumulate(array("b", skeleton)), default=0)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body_problem(text: str) -> str | None:
    """Why `text` is not acceptable JSON (a message for the client), or None."""
    if nesting_depth(text) > MAX_DEPTH:
        return str(_("JSON parse error - nested more than %(depth)d levels deep.") % {"depth": MAX_DEPTH})
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers past the digit limit
        if isinstance(exc, json.JSONDecodeError):
            return str(_("JSON parse error - %(error)s") % {"error": exc})
        return str(_("JSON parse error - a number is too long or not a JSON number."))
    if "\\u" in text:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return str(_("JSON parse error - unpaired Unicode surrogate escape."))
    return None


def _parsed_as_json(request: HttpRequest) -> bool:
    if request.path.startswith(_ALLAUTH_PREFIX):
        return True  # allauth headless parses every non-GET body, whatever its media type
    content_type = request.content_type or ""
    return bool(content_type) and (media_type_matches("application/json", content_type)
                                   or content_type.endswith("+json"))


def _is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large() -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(413, code="request_too_large", detail=_(
        "The request body is larger than %(limit)d bytes.") % {"limit": limit})


def _read_chunked(request: HttpRequest, limit: int | None) -> bool:
    """Read a chunked body the server has de-chunked (`wsgi.input_terminated`, gunicorn) into the
    request, as if it had come with a Content-Length. False when it is over `limit`."""
    stream = request.META.get("wsgi.input")
    if stream is None or not request.META.get("wsgi.input_terminated"):
        return True  # a server that does not de-chunk: Django reads no body at all
    data = stream.read(limit + 1) if limit is not None else stream.read()
    if limit is not None and len(data) > limit:
        return False
    request._stream = LimitedStream(BytesIO(data), len(data))  # type: ignore[assignment]
    request.META["CONTENT_LENGTH"] = str(len(data))
    return True


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """The 4xx for a request whose body must not reach a view, or None."""
    if request.method not in _BODY_METHODS:
        return None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    length = _content_length(request)
    if limit is not None and length > limit:
        return _too_large()
    if not length and _is_chunked(request) and not _read_chunked(request, limit):
        return _too_large()
    if not _parsed_as_json(request):
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return _too_large()
    if not body:
        return None
    try:
        text = body.decode(request.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return error_response(400, code="parse_error", detail=_("JSON parse error - the body is not valid UTF-8."))
    problem = json_body_problem(text)
    return error_response(400, code="parse_error", detail=problem) if problem else None


def _unresolved(path_info: str) -> bool:
    try:
        resolve(path_info)
    except Resolver404:
        return True
    return False


def _slash_redirect_refusal(request: HttpRequest) -> HttpResponse | None:
    """A write to a path that only matches with a slash appended: Django's APPEND_SLASH would
    redirect it (DEBUG off, losing the body) or raise a RuntimeError (DEBUG on, a 500). 404."""
    if (request.method in ("GET", "HEAD") or not settings.APPEND_SLASH or request.path_info.endswith("/")
            or not _unresolved(request.path_info)):
        return None
    return error_response(404)


class ApiGuardMiddleware:
    """See the module docstring. Placed early (after CORS, so refusals carry CORS headers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api_path(request.path):
            return self.get_response(request)
        refusal = _refusal(request)
        if refusal is None:
            refusal = _slash_redirect_refusal(request)
        if refusal is not None:
            logger.info("api_input_refused", method=request.method, path=request.path, status=refusal.status_code)
            return refusal
        return self._as_json(request, self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Remember what a view raised; Django still answers (and logs) it, `_as_json` reshapes."""
        if is_api_path(request.path):
            request._api_guard_exception = exception  # type: ignore[attr-defined]

    def _as_json(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        status = response.status_code
        if status < 400 or response.streaming or "json" in response.get("Content-Type", ""):
            return response
        raised = getattr(request, "_api_guard_exception", None)
        no_view = getattr(request, "resolver_match", None) is None
        empty = not response.content  # type: ignore[attr-defined]
        if not (no_view or empty or status >= 500 or status == 405 or raised is not None):
            return response  # a page a view chose to send (e.g. a refused download link for a browser)
        if isinstance(raised, RequestDataTooBig):
            status = 413
        elif isinstance(raised, SuspiciousOperation):
            status = 400
        reshaped = error_response(status)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                reshaped[header] = value
        return reshaped
