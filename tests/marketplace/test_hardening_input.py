"""Malformed input under /api/ and /_allauth/ gets a 4xx in the contract's shape, never a server
error or an HTML page, and changes nothing (marketplace/api/guard.py, issue 12).

Every case runs with DEBUG off (production) and on (`make run`), since Django answers errors
differently in each."""

import io
import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.orders.models import Order
from apps.payments.models import WebhookEvent
from marketplace.api.guard import MAX_DEPTH, json_body_problem, nesting_depth
from marketplace.models import IdempotencyRecord
from tests.factories import PASSWORD, ProductFactory, ShopperFactory

ORDERS = "/api/v1/orders/"
LOGIN = "/_allauth/app/v1/auth/login"
REDEEM = "/api/v1/passes/redeem"
WEBHOOK = "/api/v1/payments/stripe/webhook/"
TOO_BIG = 10 * 1024 * 1024


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def buyer(db):
    return ShopperFactory(email="buyer@shopper.test")


@pytest.fixture
def session_token(buyer) -> str:
    """A real allauth headless session token (X-Session-Token), as a shopper's app holds one."""
    response = Client().post(LOGIN, data=json.dumps({"email": buyer.email, "password": PASSWORD}),
                             content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def _writes() -> tuple[int, ...]:
    return (Order.objects.count(), IdempotencyRecord.objects.count(), WebhookEvent.objects.count(),
            Session.objects.count())


def _post(path: str, body: bytes, *, content_type: str = "application/json", token: str | None = None, **extra):
    headers = {"HTTP_X_SESSION_TOKEN": token} if token else {}
    return Client().generic("POST", path, body, content_type=content_type, **headers, **extra)


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert body["type"] == ("server_error" if status >= 500 else "client_error")
    assert [(e["code"], e["attr"]) for e in body["errors"]] == [(code, None)]
    assert body["errors"][0]["detail"]
    return body


DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "content_type"), [
    (ORDERS, DEEP, "application/json"),
    (ORDERS, b'{"lines": ' + DEEP + b"}", "application/json; charset=utf-8"),
    (ORDERS, DEEP, "*/*"),  # DRF parses a wildcard media type as JSON too
    (LOGIN, b'{"email": ' + DEEP + b', "password": "x"}', "application/json"),
    (LOGIN, DEEP, "text/plain"),  # allauth parses every body, whatever its media type
    (WEBHOOK, DEEP, "application/json"),
], ids=["orders", "orders-nested-field", "orders-wildcard", "allauth-login", "allauth-text-plain", "webhook"])
def test_deeply_nested_json_answers_400_parse_error_and_writes_nothing(debug, session_token, path, body, content_type):
    # given a body nested 5,000 levels deep (Python's json would hit its recursion limit)
    before = _writes()

    # when it is posted
    response = _post(path, body, content_type=content_type, token=session_token)

    # then a 400 parse_error in the contract's shape, and nothing was written
    detail = _assert_error(response, 400, "parse_error")["errors"][0]["detail"]
    assert str(MAX_DEPTH) in detail
    assert _writes() == before


@pytest.mark.django_db
def test_nesting_up_to_the_limit_still_reaches_the_view(session_token):
    # given a body nested exactly MAX_DEPTH deep
    body = b'{"lines": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"

    # when it is posted, then the view judges it (a validation error, not the guard's refusal)
    response = _post(ORDERS, body, token=session_token)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


@pytest.mark.django_db
@pytest.mark.parametrize("path", [ORDERS, LOGIN, REDEEM, WEBHOOK])
def test_a_10_mb_body_answers_413_json(debug, session_token, path):
    before = _writes()

    response = _post(path, b"[" + b"1," * (TOO_BIG // 2) + b"1]", token=session_token)

    _assert_error(response, 413, "request_too_large")
    assert _writes() == before


@pytest.mark.django_db
def test_a_chunked_body_over_the_limit_answers_413(session_token):
    # given a chunked body (no Content-Length) that the server de-chunked, as gunicorn does
    body = b'{"lines": "' + b"x" * TOO_BIG + b'"}'
    extra = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body),
             "wsgi.input_terminated": True}

    response = _post(ORDERS, body, token=session_token, **extra)

    _assert_error(response, 413, "request_too_large")
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_small_chunked_body_is_read_like_any_other(session_token):
    # given a small chunked body: DRF used to see no body at all (no Content-Length)
    body = b'{"lines": "not a list"}'
    extra = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body),
             "wsgi.input_terminated": True}

    response = _post(ORDERS, body, token=session_token, **extra)

    # then the view validated what was sent
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "not_a_list"


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body"), [
    (ORDERS, rb'{"lines": [{"product": 1, "quantity": 1, "slot": "\ud800"}]}'),
    (ORDERS, rb'{"\udc00": 1}'),
    ("/api/v1/orders/1/payment/simulate", rb'{"outcome": "\ud800"}'),  # echoed in invalid_choice's detail
    (LOGIN, rb'{"email": "\ud800@x.test", "password": "x"}'),
], ids=["orders-field", "orders-key", "simulate-choice-echo", "allauth"])
def test_a_lone_surrogate_escape_answers_400(debug, session_token, path, body):
    before = _writes()

    response = _post(path, body, token=session_token, HTTP_IDEMPOTENCY_KEY="k-surrogate")

    _assert_error(response, 400, "parse_error")
    assert _writes() == before


@pytest.mark.django_db
def test_a_surrogate_pair_and_an_escaped_backslash_pass_the_guard(session_token):
    # given a valid pair (an emoji) and the six characters "\ud800" written with an escaped backslash
    body = rb'{"outcome": "\ud83d\ude00 \\ud800"}'

    response = _post("/api/v1/orders/999/payment/simulate", body, token=session_token)

    # then the view judges it (and may echo it: it encodes as UTF-8), not the guard
    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": "invalid_choice", "attr": "outcome",
                                          "detail": '"\U0001f600 \\ud800" is not a valid choice.'}]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body"), [
    (LOGIN, b'{"email": ' + b"1" * 5000 + b', "password": "x"}'),
    (ORDERS, b'{"lines": [{"product": ' + b"9" * 5000 + b', "quantity": 1}]}'),
    (LOGIN, b'{"email": NaN, "password": "x"}'),
], ids=["allauth-5000-digits", "orders-5000-digits", "allauth-nan"])
def test_a_5000_digit_integer_or_nan_answers_400(debug, session_token, path, body):
    before = _writes()

    response = _post(path, body, token=session_token)

    _assert_error(response, 400, "parse_error")
    assert _writes() == before


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"{nope", b"[]", b"\xff\xfe"], ids=["invalid", "not-an-object", "not-utf8"])
def test_allauth_bad_bodies_answer_json_not_an_empty_html_400(debug, body):
    # allauth headless answers these with an empty text/html 400 of its own
    response = _post(LOGIN, body)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"] in ("parse_error", "bad_request")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/certificates/%00/", "/api/v1/certificates/a%00b/",
                                  "/api/v1/certificates/%00/qr.svg", "/api/v1/certificates/%00/qr.png"])
def test_a_nul_byte_in_a_certificate_code_answers_404_json(debug, path):
    _assert_error(Client().get(path), 404, "not_found")


@pytest.mark.django_db
def test_a_nul_byte_in_a_certificate_page_code_answers_the_404_page(debug):
    response = Client().get("/certificates/%00/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_options_on_orders_with_a_session_token_answers_drf_metadata(debug, session_token):
    # given a view with an input and an output serializer per action (no serializer_class)
    # when a client asks OPTIONS with its session
    response = Client().options(ORDERS, HTTP_X_SESSION_TOKEN=session_token)

    # then DRF's metadata, without the `actions` it cannot describe
    assert response.status_code == 200
    body = response.json()
    assert body["name"] and body["parses"] == ["application/json"] and "actions" not in body


@pytest.mark.django_db
def test_options_on_every_api_route_is_never_a_server_error(session_token):
    from django.urls import get_resolver

    def routes(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    paths = {"/" + re.sub(r"<[^>]+>", "1", route.replace("<version>", "v1"))
             for route in routes(get_resolver().url_patterns) if route.startswith("api/")}
    assert len(paths) > 10
    for path in sorted(paths):
        response = Client().options(path, HTTP_X_SESSION_TOKEN=session_token)
        assert response.status_code < 500, path
        assert not response["Content-Type"].startswith("text/html"), path  # JSON (the schema: its own type)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/nope/"), ("get", "/api/nope"), ("post", "/api/v1/nope/"), ("get", "/_allauth/nope"),
    ("get", "/_allauth/app/v1/nope"),
    ("post", "/api/v1/orders"),  # only matches with a slash: APPEND_SLASH raised a RuntimeError under DEBUG
    ("delete", "/api/v1/passes/redeem/x"),
])
def test_unmatched_api_paths_answer_the_json_404(debug, method, path):
    response = getattr(Client(), method)(path)

    _assert_error(response, 404, "not_found")


@pytest.mark.django_db
def test_non_api_paths_keep_djangos_pages(debug):
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert (b"Using the URLconf" in response.content) is debug  # the technical page only under DEBUG


@pytest.mark.django_db
def test_a_get_without_the_slash_is_still_redirected():
    response = Client().get("/api/v1/orders")
    assert response.status_code == 301 and response["Location"] == "/api/v1/orders/"


def test_nesting_depth_ignores_brackets_in_strings_and_counts_without_recursion():
    assert nesting_depth('{"a": "[[[{{{", "b": ["\\"]]]", {"c": []}]}') == 4
    assert nesting_depth("[" * 100_000) == 100_000
    assert nesting_depth("1") == 0
    assert json_body_problem('{"a": [1, 2.5, "x", null, true]}') is None


# --- fuzz ---------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=20))
_json_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
_nasty_literals = st.sampled_from([
    '"\\ud800"', '"\\udfff"', '"a\\u0000b"', '"\\u0000"', "1" * 5000, "-" + "9" * 4400, "1e999999", "NaN",
    "Infinity", '"' + "x" * 3000 + '"', "[" * 3000 + "]" * 3000, '{"":' * 200 + "1" + "}" * 200, "[]", "{}",
    '"\\ud83d\\ude00"', '"\\\\ud800"', "0.1e-99999", "[1,]", "{,}", '"\x01"',
])


@st.composite
def _bodies(draw, keys: tuple[str, ...]) -> bytes:
    """JSON-ish bodies: valid JSON of random shape, the endpoint's own keys holding nasty or wrong
    typed values, deep nesting, and raw bytes."""
    kind = draw(st.sampled_from(["json", "keys", "deep", "bytes"]))
    if kind == "json":
        return json.dumps(draw(_json_values)).encode()
    if kind == "keys":
        fields = draw(st.lists(st.tuples(st.sampled_from(keys), st.one_of(
            _nasty_literals, _json_values.map(json.dumps))), min_size=1, max_size=len(keys)))
        return ("{" + ",".join(f'"{key}":{value}' for key, value in fields) + "}").encode()
    if kind == "deep":
        depth = draw(st.integers(min_value=MAX_DEPTH - 2, max_value=6000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + draw(_nasty_literals) + closer * depth).encode()
    return draw(st.binary(max_size=200))


_FUZZ = hypothesis_settings(max_examples=60, deadline=None, derandomize=True,
                            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _assert_handled(response) -> None:
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    if response.status_code >= 400:
        assert body["errors"], body  # the contract's shape, or allauth's own {status, errors} for its fields


@pytest.mark.slow
@pytest.mark.django_db
def test_fuzz_orders(session_token):
    ProductFactory(price=1000, stock_total=3)

    @_FUZZ
    @given(body=_bodies(("lines", "product", "quantity", "slot", "component_slots")),
           content_type=st.sampled_from(["application/json", "*/*", "text/plain", "application/json; charset=utf-8"]))
    def check(body: bytes, content_type: str) -> None:
        _assert_handled(_post(ORDERS, body, content_type=content_type, token=session_token,
                              HTTP_IDEMPOTENCY_KEY="fuzz"))

    check()


@pytest.mark.slow
@pytest.mark.django_db
def test_fuzz_allauth_login(buyer):
    @_FUZZ
    @given(body=_bodies(("email", "password", "username")))
    def check(body: bytes) -> None:
        cache.clear()  # allauth's login rate limit would answer 429 before the body is looked at
        _assert_handled(_post(LOGIN, body))

    check()


@pytest.mark.slow
@pytest.mark.django_db
def test_fuzz_passes_redeem(staff_a):
    response = Client().post(LOGIN, data=json.dumps({"email": staff_a.email, "password": PASSWORD}),
                             content_type="application/json")
    token = response.json()["meta"]["session_token"]

    @_FUZZ
    @given(body=_bodies(("token", "exhibitor")))
    def check(body: bytes) -> None:
        _assert_handled(_post(REDEEM, body, token=token))

    check()
