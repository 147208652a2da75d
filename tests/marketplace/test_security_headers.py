"""Security headers (marketplace/security.py): every HTML page has a Content-Security-Policy whose
scripts run only from this origin or with the page's nonce ('unsafe-eval' and inline styles only
where docs/API-additions.md says), and every response carrying a secret is `no-store`."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog import services as catalog_services
from apps.catalog.models import LicenceKey
from apps.fulfilment import links, services
from apps.fulfilment.models import Entitlement
from apps.payments.services.payouts import connect_onboarding_start
from marketplace.security import csp_directives_for
from tests.factories import PASSWORD, ProductFactory, ServiceSlotFactory, UserFactory, add_download_file, paid_order

pytestmark = pytest.mark.django_db

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# Where the strict default is relaxed, and how (config/settings/integrations/security.py).
UNSAFE_EVAL_FAMILIES = ("/admin/", "/simulated/")
INLINE_STYLE_FAMILIES = ("/admin/", "/simulated/", "/api/docs/", "/api/redoc/")


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path), "base_url": None}}}


@pytest.fixture
def goods(shopper, exhibitor_a):
    """A paid, fulfilled order of a collectible, a booking, a download with a licence key and a pass."""
    now = timezone.now()
    drop = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, title="Jade Dragon")
    consultation = ProductFactory(exhibitor=exhibitor_a, service=True, title="Health consult")
    slot = ServiceSlotFactory(product=consultation, capacity=2)
    software = ProductFactory(exhibitor=exhibitor_a, title="Paint Pro")
    add_download_file(software)
    catalog_services.licence_keys_add(product=software, keys=["KEY-AAAA"])
    booth_pass = ProductFactory(exhibitor=exhibitor_a, pass_=True, stock_total=5, title="VR booth",
                                pass_valid_from=now - timedelta(hours=1), pass_valid_until=now + timedelta(days=1))
    order = paid_order(shopper, (drop, 1), (consultation, 1, slot), (software, 1), (booth_pass, 1))
    units = {u.kind: u for u in services.fulfilment_fulfil_order(order_id=order.pk)}
    return order, units


def _path(url: str) -> str:
    """An absolute link handed out (PUBLIC_BASE_URL) as the test client requests it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def _assert_strict_page(path: str, response) -> None:
    policy = _policy(response)
    body = response.content.decode()
    assert "text/html" in response.headers["Content-Type"]
    script_src = policy.get("script-src", policy["default-src"])
    style_src = policy.get("style-src", policy["default-src"])
    assert "'unsafe-inline'" not in script_src and "*" not in script_src, path
    assert ("'unsafe-eval'" in script_src) == path.startswith(UNSAFE_EVAL_FAMILIES), path
    assert ("'unsafe-inline'" in style_src) == path.startswith(INLINE_STYLE_FAMILIES), path
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"], path
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"][0] == "'self'", path
    # Every inline script (JSON data blocks are not run) carries this response's nonce.
    nonce = next((v[len("'nonce-"):-1] for v in script_src if v.startswith("'nonce-")), None)
    for attrs in re.findall(r"<script\b([^>]*)>", body):
        if "src=" not in attrs and "application/json" not in attrs:
            assert nonce and f'nonce="{nonce}"' in attrs, f"{path}: inline <script{attrs}> without the nonce"
    if "'unsafe-inline'" not in style_src:
        assert not re.search(r"\sstyle=\"", body), f"{path}: a style attribute, which the policy refuses"
        for attrs in re.findall(r"<style\b([^>]*)>", body):
            assert nonce and f'nonce="{nonce}"' in attrs, f"{path}: <style> without the nonce"


def test_every_html_page_has_a_strict_policy(goods, shopper, staff_a, operator, exhibitor_a):
    order, units = goods
    account = connect_onboarding_start(exhibitor_id=exhibitor_a.pk, actor=operator)
    pages = [
        (None, "/admin/login/", 200),
        (staff_a, "/admin/", 200),
        (operator, "/admin/", 200),
        (staff_a, "/admin/catalog/licencekey/", 200),
        (operator, _path(account.onboarding_url), 200),
        (operator, "/ops/", 200),
        (staff_a, "/booth/", 200),
        (staff_a, "/booth/?exhibitor=nobody", 404),
        (None, f"/certificates/{units['collectible'].certificate_code}/", 200),
        (None, "/certificates/no-such-code/", 404),
        (None, _path(links.booking_url(units["service"])), 200),
        (None, _path(links.goods_url(order_id=order.pk, user_id=shopper.pk)), 200),
        (None, "/api/docs/", 200),
        (None, "/api/redoc/", 200),
        (None, "/no-such-page/", 404),
    ]
    for user, path, status in pages:
        response = _client(user).get(path, headers=BROWSER)
        assert response.status_code == status, (path, response.status_code)
        _assert_strict_page(path, response)

    # a refused download link opened in a browser is a page too, under /api/
    refused = _client().get("/api/v1/downloads/forged-token", headers=BROWSER)
    assert refused.status_code == 404
    _assert_strict_page("/api/v1/downloads/…", refused)


def test_the_booth_page_may_use_the_camera_canvas_and_service_worker(staff_a):
    policy = _policy(_client(staff_a).get("/booth/"))
    assert policy["worker-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert {"blob:", "data:"} <= set(policy["img-src"])
    # and the service worker's own fetches (its script's header governs them) stay on this origin
    worker = _policy(_client().get("/booth/sw.js"))
    assert worker["connect-src"] == ["'self'"] and worker["default-src"] == ["'self'"]


def test_json_and_files_load_nothing(api_client, goods):
    _order, units = goods
    for path in ("/api/v1/products/", f"/api/v1/certificates/{units['collectible'].certificate_code}/",
                 f"/api/v1/certificates/{units['collectible'].certificate_code}/qr.svg", "/health/"):
        response = api_client.get(path)
        assert _policy(response) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}, path


def test_the_nonce_is_new_for_every_response(goods):
    _order, units = goods
    path = _path(links.booking_url(units["service"]))
    first, second = (_policy(_client().get(path))["script-src"] for _ in range(2))
    assert first != second and any(v.startswith("'nonce-") for v in first)
    assert csp_directives_for("/api/docs/", "text/html; charset=utf-8")["style-src"] == ["'self'", "'unsafe-inline'"]


# --- no-store --------------------------------------------------------------------------------------


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_every_response_carrying_a_secret_is_no_store(goods, shopper, staff_a, operator, exhibitor_a):
    order, units = goods
    UserFactory(email="login@shopper.test")
    auth = "/_allauth/app/v1/auth"
    anonymous, api = APIClient(), APIClient()
    api.force_authenticate(shopper)
    staff_api = APIClient()
    staff_api.force_authenticate(staff_a)
    account = connect_onboarding_start(exhibitor_id=exhibitor_a.pk, actor=operator)
    key = LicenceKey.objects.get(key="KEY-AAAA")
    library = api.get("/api/v1/library/").json()["results"]
    item = {i["kind"]: i for i in library}

    login = anonymous.post(f"{auth}/login", {"email": "login@shopper.test", "password": PASSWORD}, format="json")
    token = login.json()["meta"]["session_token"]
    placed = ProductFactory(exhibitor=exhibitor_a, title="Tea")
    created = api.post("/api/v1/orders/", {"lines": [{"product": placed.pk, "quantity": 1}]}, format="json")
    assert created.json()["payment"]["client_secret"]
    pending = created.json()["id"]

    responses = {
        "login": login,
        "signup": anonymous.post(f"{auth}/signup", {"email": "new@shopper.test", "password": "a-long-unusual-pass-42"},
                                 format="json"),
        "session": APIClient().get(f"{auth}/session", headers={"X-Session-Token": token}),
        "order create (client_secret)": created,
        "order list": api.get("/api/v1/orders/"),
        "order detail": api.get(f"/api/v1/orders/{pending}/"),
        "order payment (client_secret)": api.post(f"/api/v1/orders/{pending}/payment"),
        "library": api.get("/api/v1/library/"),
        "library item": api.get(f"/api/v1/library/{units['pass'].pk}/"),
        "download": anonymous.get(_path(item["download"]["download"]["url"])),
        "pass QR (signed link)": anonymous.get(_path(item["pass"]["pass"]["qr_svg_url"])),
        "pass QR (owner)": api.get(f"/api/v1/passes/{units['pass'].pk}/qr.png"),
        "booth lookup": staff_api.post("/api/v1/passes/lookup", {"token": units["pass"].pass_token}, format="json"),
        "booth roster": staff_api.get("/api/v1/passes/roster?exhibitor=alpha"),
        "booth redeem batch": staff_api.post("/api/v1/passes/redeem-batch", {"items": [
            {"token": units["pass"].pass_token, "redeemed_at": timezone.now().isoformat()}]}, format="json"),
        "booth page": _client(staff_a).get("/booth/"),
        "goods page": _client().get(_path(links.goods_url(order_id=order.pk, user_id=shopper.pk))),
        "booking page": _client().get(_path(links.booking_url(units["service"]))),
        "admin login": _client().get("/admin/login/"),
        "admin licence keys": _client(staff_a).get("/admin/catalog/licencekey/"),
        "admin licence key": _client(staff_a).get(f"/admin/catalog/licencekey/{key.pk}/change/"),
        "admin payout account (onboarding link)": _client(operator).get(
            f"/admin/payments/connectaccount/{account.pk}/change/"),
        "simulated onboarding": _client(operator).get(_path(account.onboarding_url)),
        "ops console": _client(operator).get("/ops/"),
        "order refused (still no-store)": api.get("/api/v1/orders/not-an-order/"),
    }
    for name, response in responses.items():
        assert response.status_code < 500, (name, response.status_code)
        assert _no_store(response), f"{name}: Cache-Control {response.headers.get('Cache-Control')!r}"
    assert responses["library item"].status_code == 200 and responses["download"].status_code == 200
    assert Entitlement.objects.get(pk=units["pass"].pk).redeemed_at is not None

    # What carries no secret stays cacheable: the catalog, a certificate, the service worker.
    for path in ("/api/v1/products/", f"/certificates/{units['collectible'].certificate_code}/", "/booth/sw.js"):
        assert not _no_store(anonymous.get(path)), path
