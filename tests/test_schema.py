"""The OpenAPI schema is valid and the API keeps its word (API.md: GET /api/schema/): real calls
answer the documented status, content type and body. The fuzzing of every operation, as each
identity and statefully, is in tests/test_schema_identities.py."""

from datetime import timedelta

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from apps.catalog.models import Edition, EditionStatus
from apps.exhibitors.models import ExhibitorStatus
from config.wsgi import application
from tests.factories import ExhibitorFactory, ProductFactory, ServiceSlotFactory

SCHEMA_URL = "/api/schema/?format=json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def demo_catalog(db):
    return make_demo_catalog()


def make_demo_catalog() -> dict:
    """A few exhibitors with products of every kind, limited and not, visible and hidden."""
    now = timezone.now()
    jade = ExhibitorFactory(slug="jade-studio", name="Jade Studio", name_zh_hans="玉工作室", hall="H1")
    clinic = ExhibitorFactory(slug="sunrise-clinic", name="Sunrise Clinic", name_zh_hans="日出诊所", hall="H2")
    ExhibitorFactory(slug="waiting-room", status=ExhibitorStatus.PENDING)
    drop = ProductFactory(exhibitor=jade, slug="demo-drop", collectible=True, edition_size=25, per_customer_limit=2)
    Edition.objects.filter(product=drop, serial__lte=3).update(status=EditionStatus.SOLD)
    ProductFactory(exhibitor=jade, slug="future-drop", collectible=True, edition_size=5, sale_starts_at=now + timedelta(days=1))
    ProductFactory(exhibitor=jade, slug="wallpapers", title="Wallpapers", title_zh_hans="壁纸")
    ProductFactory(exhibitor=jade, slug="sold-out-keys", stock_total=2, stock_taken=2)
    booth_pass = ProductFactory(exhibitor=jade, slug="booth-pass", pass_=True, stock_total=50, sale_ends_at=now + timedelta(days=3))
    consult = ProductFactory(exhibitor=clinic, slug="consult", service=True, title="Consultation", title_zh_hans="健康咨询")
    slots = [ServiceSlotFactory(product=consult, starts_at=now + timedelta(hours=hours), taken=1) for hours in (2, 3, 4)]
    ProductFactory(exhibitor=clinic, slug="draft", is_published=False)
    return {"drop": drop, "consult": consult, "jade": jade, "booth_pass": booth_pass, "slots": slots}


@pytest.fixture
def keep_test_connection():
    """Requests go through the real WSGI handler, whose request_started/finished signals would
    close the test's database connection (and its transaction); Django's test client detaches
    them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    # Loaded once at collection (schema generation touches no database). schemathesis' lazy
    # from_fixture loader does not work with pytest 9 (it sets the removed Node._nodeid).
    try:
        return schemathesis.openapi.from_wsgi(SCHEMA_URL, application), None
    except Exception as exc:  # a broken schema must fail this file's tests, not abort the whole session's collection
        return None, exc


schema, SCHEMA_LOAD_ERROR = _load_schema()

def test_documented_responses_of_real_objects_conform(demo_catalog, keep_test_connection):
    """Fuzzed ids rarely hit a real product; these calls cover the 200 bodies of the detail views."""
    assert schema is not None, SCHEMA_LOAD_ERROR
    drop, consult, jade = demo_catalog["drop"], demo_catalog["consult"], demo_catalog["jade"]
    zh = {"Accept-Language": "zh"}
    calls = [
        ("/api/v1/products/{id}/", {"path_parameters": {"id": drop.id}, "headers": zh}, 200),
        ("/api/v1/products/{id}/", {"path_parameters": {"id": consult.id}}, 200),
        ("/api/v1/products/{id}/slots/", {"path_parameters": {"id": consult.id}, "query": {"page_size": 2}}, 200),
        ("/api/v1/products/{id}/slots/", {"path_parameters": {"id": drop.id}}, 404),
        ("/api/v1/exhibitors/{slug}/", {"path_parameters": {"slug": jade.slug}}, 200),
        ("/api/v1/exhibitors/{slug}/", {"path_parameters": {"slug": "waiting-room"}}, 404),
        ("/api/v1/products/", {"query": {"exhibitor": "waiting-room"}}, 400),
        ("/api/v1/products/", {"query": {"available": "true", "kind": "collectible"}, "headers": zh}, 200),
        ("/api/v1/products/", {"query": {"cursor": "forged"}}, 404),
    ]
    for template, data, status in calls:
        case = schema[template]["GET"].Case(**data)

        response = case.call_and_validate(checks=CHECKS)

        assert response.status_code == status, (template, data)


def test_schema_lists_the_v1_paths(api_client):
    response = api_client.get(SCHEMA_URL)

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/exhibitors/",
        "/api/v1/exhibitors/{slug}/",
        "/api/v1/products/",
        "/api/v1/products/{id}/",
        "/api/v1/products/{id}/slots/",
    } <= set(paths)


def test_schema_generation_is_valid_and_warning_free(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning into an error; --validate checks OpenAPI 3.
    call_command("spectacular", "--api-version", "v1", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/products/" in (tmp_path / "schema.yaml").read_text()


def test_docs_ui_is_served_without_a_cdn(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def _schema_json(api_client) -> dict:
    return api_client.get(SCHEMA_URL).json()


def test_library_items_declare_pass_and_the_other_kinds_parts_as_nullable(api_client):
    item = _schema_json(api_client)["components"]["schemas"]["LibraryItem"]

    assert "pass" in item["properties"]
    assert "pass_" not in item["properties"]
    assert "pass" in item["required"]
    for part in ("edition", "booking", "download", "pass"):
        assert item["properties"][part]["nullable"] is True, part


def _error_codes(document: dict, path: str, method: str, status: str) -> set[str]:
    """Every `code` the schema allows in the operation's `status` answer (all its variants)."""
    schemas = document["components"]["schemas"]

    def resolve(node: dict) -> dict:
        return schemas[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node

    codes: set[str] = set()
    pending = [document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]]
    while pending:
        node = resolve(pending.pop())
        pending.extend(node.get("oneOf", []))
        if "errors" in node.get("properties", {}):
            pending.append(node["properties"]["errors"]["items"])
        if "code" in node.get("properties", {}):
            codes |= set(resolve(node["properties"]["code"])["enum"])
    return codes


@pytest.mark.parametrize(("path", "method", "status", "codes"), [
    ("/api/v1/orders/", "post", "400", {"invalid_idempotency_key", "slot_required", "invalid", "parse_error", "max_length"}),
    ("/api/v1/orders/", "post", "409", {"sold_out", "slot_full", "limit_exceeded", "not_on_sale", "invalid_state",
                                        "idempotency_key_in_use"}),
    ("/api/v1/orders/", "post", "422", {"idempotency_key_reused"}),
    ("/api/v1/orders/{order_id}/cancel", "post", "409", {"invalid_state"}),
    ("/api/v1/orders/{order_id}/payment", "post", "409", {"invalid_state"}),
    ("/api/v1/orders/{order_id}/payment/simulate", "post", "409", {"invalid_state"}),
    ("/api/v1/passes/redeem", "post", "409", {"already_redeemed", "pass_revoked", "pass_not_valid_now"}),
    ("/api/v1/downloads/{token}", "get", "410", {"link_expired", "downloads_exhausted", "revoked"}),
    ("/api/v1/passes/{link}/qr.svg", "get", "410", {"revoked"}),
    ("/api/v1/products/", "get", "400", {"invalid_choice", "invalid"}),  # ?kind=foo, ?page_size=null
    ("/api/v1/orders/", "get", "400", {"invalid", "min_value"}),  # ?page_size=null, ?page_size=0
    ("/api/v1/library/", "get", "400", {"invalid", "min_value"}),
    ("/api/v1/ops/queues", "get", "403", {"permission_denied"}),
])
def test_the_schema_lists_the_error_codes_each_operation_answers(api_client, path, method, status, codes):
    assert codes <= _error_codes(_schema_json(api_client), path, method, status)


@pytest.mark.parametrize("page_size", ["null", "0", "-3", "abc", "", "5.0", " 5", "１"])
def test_junk_page_sizes_are_refused_as_documented(demo_catalog, keep_test_connection, page_size):
    case = schema["/api/v1/products/"]["GET"].Case(query={"page_size": page_size})

    response = case.call_and_validate(checks=CHECKS)

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "page_size"


def test_a_page_size_over_the_maximum_is_capped(demo_catalog, keep_test_connection):
    case = schema["/api/v1/products/"]["GET"].Case(query={"page_size": 1000})

    response = case.call_and_validate(checks=CHECKS)

    assert response.status_code == 200
