"""Content-Security-Policy (django-csp 4) per page family, and the `no-store` path families.

`marketplace.security.ContentSecurityPolicyMiddleware` picks one policy per response: an HTML page
gets its family's (longest matching path prefix, else `CSP_DEFAULT`); anything else (JSON, QR
images, files) gets `CSP_RESOURCE`, which lets nothing load, except `/booth/sw.js`, whose header
governs the service worker's own fetches. A view may still add to its policy with django-csp's
`csp_update` / `csp_replace` decorators. Templates put `nonce="{{ request.csp_nonce }}"` on an
inline `<script>` or `<style>`; the nonce reaches the header only when a template used it.

The exceptions to the strict default are scoped to the families that need them (see
docs/API-additions.md, "Security headers"):
- the admin (and the simulated Stripe onboarding page, built on the admin's layout): unfold's
  Alpine.js evaluates its `x-data` expressions with `new Function` ('unsafe-eval'), and unfold's
  templates carry `style` attributes and a `<style>` block ('unsafe-inline' styles; scripts stay
  nonce/self only);
- Swagger UI and Redoc: they inject `<style>` elements at run time ('unsafe-inline' styles) and
  Redoc runs its search index in a `blob:` worker.
"""

from typing import Any
from urllib.parse import urlsplit

from csp.constants import NONCE, NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE

from config.settings import env as E


def _media_origins() -> list[str]:
    """Where product images come from when they are not on this origin (S3 public storage)."""
    if not E.S3_BUCKET:
        return []
    if E.S3_ENDPOINT_URL:
        parts = urlsplit(E.S3_ENDPOINT_URL)
        return [f"{parts.scheme}://{parts.netloc}"]
    return [f"https://{E.S3_BUCKET}.s3.amazonaws.com"]


_STRICT: dict[str, Any] = {
    "default-src": [SELF],
    "script-src": [SELF, NONCE],
    "style-src": [SELF, NONCE],
    "img-src": [SELF, *_media_origins()],
    "object-src": [NONE],
    "base-uri": [SELF],
    "frame-ancestors": [NONE],
    "form-action": [SELF],
}

# The shoppers' pages, /ops/, the error pages, and every HTML page without a family of its own.
CSP_DEFAULT: dict[str, Any] = _STRICT
CONTENT_SECURITY_POLICY = {"DIRECTIVES": CSP_DEFAULT}

CSP_FAMILIES: dict[str, dict[str, Any]] = {
    # Unfold: Alpine.js needs 'unsafe-eval'; inline styles; Tailwind's form controls draw with
    # data: SVGs. The Payouts page posts to itself and is redirected to Stripe's hosted onboarding,
    # and Chromium applies form-action to the redirect after a form post.
    "/admin/": {**_STRICT,
                "script-src": [SELF, NONCE, UNSAFE_EVAL],
                "style-src": [SELF, UNSAFE_INLINE],
                "img-src": [SELF, "data:", *_media_origins()],
                "form-action": [SELF, "https://connect.stripe.com"]},
    "/simulated/": {**_STRICT,
                    "script-src": [SELF, NONCE, UNSAFE_EVAL],
                    "style-src": [SELF, UNSAFE_INLINE],
                    "img-src": [SELF, "data:"]},
    # The camera (a MediaStream, no URL), the QR canvas, the service worker, fetch to the API.
    "/booth/": {**_STRICT,
                "img-src": [SELF, "blob:", "data:"],
                "media-src": [SELF, "blob:"],
                "worker-src": [SELF],
                "connect-src": [SELF],
                "manifest-src": [SELF]},
    # Swagger UI and Redoc (drf-spectacular-sidecar, no CDN): their bootstrap scripts carry the
    # nonce (marketplace/templates/drf_spectacular/); both inject <style> elements.
    "/api/docs/": {**_STRICT,
                   "style-src": [SELF, UNSAFE_INLINE],
                   "img-src": [SELF, "data:"],
                   "font-src": [SELF, "data:"]},
    "/api/redoc/": {**_STRICT,
                    "style-src": [SELF, UNSAFE_INLINE],
                    "img-src": [SELF, "data:"],
                    "font-src": [SELF, "data:"],
                    "worker-src": [SELF, "blob:"]},
}

# JSON, images, files: a document that loads nothing and may not be framed.
CSP_RESOURCE: dict[str, Any] = {"default-src": [NONE], "frame-ancestors": [NONE]}
# Non-HTML responses that still load things: the booth's service worker script.
CSP_RESOURCE_FAMILIES: dict[str, dict[str, Any]] = {"/booth/sw.js": CSP_FAMILIES["/booth/"]}

# `Cache-Control: no-store` (with private, no-cache, must-revalidate, max-age=0) on every response
# under these prefixes, whatever the view or the status (marketplace.security.NoStoreMiddleware).
# They carry a secret: a session token, a client_secret, a signed link, a pass token, a licence key,
# an onboarding link, a CSRF token. Other views mark themselves with @no_store.
NO_STORE_PATHS: tuple[str, ...] = (
    "/_allauth/",            # login, signup, session: the session token
    "/api/v1/orders/",       # every order response carries payment.client_secret
    "/api/v1/library/",      # signed download links, pass tokens, licence keys
    "/api/v1/downloads/",    # the paid file itself
    "/api/v1/passes/",       # pass QR (the pass token), lookup, roster, redeem
    "/admin/",               # licence keys, onboarding links, reports (the admin's own never_cache too)
    "/simulated/",           # the simulated onboarding link is the credential
    "/booth/",               # the booth page (public key, CSRF token, roster calls)
    "/ops/",                 # the operators' console and its live fragment
    "/goods/",               # an order's goods: download links, licence keys, pass QR codes
    "/bookings/",            # the booking link and the meeting link it redirects to
)
# Under a no-store prefix but deliberately cacheable-with-revalidation: the service worker script
# (no secret; the browser checks it for updates anyway).
NO_STORE_EXEMPT: tuple[str, ...] = ("/booth/sw.js",)
