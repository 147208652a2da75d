"""Shared browser plumbing for the people-facing tests: Debian's Chromium driven by Playwright
(no browser download), a logged-in admin page, and screenshots saved under test-output/.

Use it from a test module with `from tests.browser import *  # noqa: F403` or import the names.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "test-output"
WAIT_MS = 15_000

# A developer without root may lack chromium: skipped, and said so. In CI (CI=true) `make browser`
# installs it, and a missing browser must fail rather than hide behind a skip.
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                    reason="Debian's chromium is not installed (make browser)")


def launch(playwright, extra_args: list[str] | None = None):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *(extra_args or [])])


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # synchronous all the same (Django documents this switch for such tools).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as test-output/<name>.png and return its path."""
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def admin_login(browser_or_context, live_server_url: str, email: str, *, language: str = "en",
                viewport: dict | None = None):
    """A new page logged into /admin/ as `email` (demo password), with Accept-Language set."""
    page = browser_or_context.new_page(viewport=viewport or {"width": 1280, "height": 1000},
                                       extra_http_headers={"Accept-Language": language})
    page.goto(f"{live_server_url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{live_server_url}/admin/", timeout=WAIT_MS)
    return page
