"""Swagger UI and Redoc (self-hosted, drf-spectacular-sidecar) render under their
Content-Security-Policy in a real browser, as does the 404 page: no violation is reported
(tests/browser.py fails any test whose pages report one). Screenshots: test-output/api-*.png."""

import pytest

from tests.browser import SCREENSHOTS, WAIT_MS, needs_chromium

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def test_swagger_ui_and_redoc_render_under_their_policy(browser, live_server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=WAIT_MS)  # the schema loaded and rendered
    assert "Expo Marketplace API" in page.inner_text(".swagger-ui .info")
    page.screenshot(path=str(SCREENSHOTS / "api-swagger.png"))  # the first screen: the pages are long

    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("[role=search] input, .menu-content", timeout=WAIT_MS)
    page.wait_for_selector("text=Expo Marketplace API", timeout=WAIT_MS)
    page.screenshot(path=str(SCREENSHOTS / "api-redoc.png"))

    response = page.goto(f"{live_server.url}/no-such-page/")
    assert response is not None and response.status == 404
    # No CDN: everything came from this server (Redoc's default Google Fonts are dropped)
    # (Redoc's bundle asks for its footer logo on Redocly's CDN: the policy refuses it, see
    # tests/browser.py EXPECTED_CSP_VIOLATIONS.)
    foreign = [url for url in requests if not url.startswith((live_server.url, "blob:", "data:"))]
    assert set(foreign) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, foreign
