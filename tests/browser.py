"""Shared browser plumbing for the people-facing tests: Debian's Chromium driven by Playwright
(no browser download), a logged-in admin page, and screenshots saved under test-output/.

Use it from a test module with `from tests.browser import *  # noqa: F403` or import the names.
"""

import os
import time
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


# Content-Security-Policy violations seen by any page of a browser made by `launch` during the
# current test; `no_csp_violations` (autouse) fails the test when there is one. The page reports
# them itself (a securitypolicyviolation listener, injected before any page script runs, which
# no CSP can stop) and Chromium logs them to the console ("… violates the following Content
# Security Policy directive …").
CSP_VIOLATIONS: list[str] = []
_CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => console.error(
  `CSP violation: ${e.violatedDirective} refused ${e.blockedURI || "inline"} on ${e.documentURI} (${e.sourceFile}:${e.lineNumber})`));"""


# Violations that are the policy working as meant, not a page broken by it.
EXPECTED_CSP_VIOLATIONS = (
    # Redoc's bundle hard-codes its footer logo on Redocly's CDN (no option turns it off): the
    # policy keeps the page off the CDN, and the image hides itself when it fails to load.
    "https://cdn.redoc.ly/redoc/logo-mini.svg",
)


def _on_console(message) -> None:
    text = message.text
    if ("Content Security Policy" in text or "CSP violation" in text) and not any(
            expected in text for expected in EXPECTED_CSP_VIOLATIONS):
        CSP_VIOLATIONS.append(text)


def _watch(target) -> None:
    """Record CSP violations of a page or of every page of a context."""
    target.add_init_script(script=_CSP_LISTENER)
    target.on("console", _on_console)


def launch(playwright, extra_args: list[str] | None = None):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *(extra_args or [])])
    new_context, new_page = browser.new_context, browser.new_page

    def watched_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        _watch(context)
        return context

    def watched_page(*args, **kwargs):
        page = new_page(*args, **kwargs)
        _watch(page)
        return page

    browser.new_context, browser.new_page = watched_context, watched_page
    return browser


@pytest.fixture(autouse=True)
def no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    violations, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def wait_for_js(page, expression: str, arg=None, *, timeout: float = WAIT_MS) -> None:
    """`page.wait_for_function` without eval in the page: Playwright compiles that predicate with
    `new Function` inside the page, which every CSP without 'unsafe-eval' refuses (all pages but
    the admin's). `page.evaluate` goes through the DevTools protocol, which no CSP restricts."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except Error as exc:  # a navigation or reload replaced the document meanwhile
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout} ms")
        page.wait_for_timeout(100)


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
