"""/booth/: exhibitor staff check and redeem passes on a phone, online or offline.

One server-rendered page; its script (static/booth/booth.js) scans QR codes, verifies a token's
Ed25519 signature in the browser with the public key embedded here, keeps the booth's pass list
and a queue of redemptions in localStorage, and syncs through the JSON calls of `booth.api`. A
service worker (served from /booth/ so that it may control the page) keeps the page and its
assets available when the network drops.

Who may open it: exhibitor staff (their booth; a chooser when they belong to several) and
operators (a chooser of every booth). Anyone else signed in gets a page saying so, not a 403
error; an anonymous visitor goes to the admin login and comes back.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.exhibitors.models import Exhibitor
from apps.fulfilment import signing
from apps.fulfilment.booth import selectors
from marketplace.tenancy import is_operator

# Every sentence the script shows, translated here (the script only fills in %(name)s).
MESSAGES = {
    "online": _("Online"),
    "offline": _("Offline"),
    "offline_banner": _("No network. Passes are checked on this phone and redemptions are saved here until the network is back."),
    "scan": _("Scan a pass"),
    "stop_camera": _("Stop camera"),
    "camera_starting": _("Starting the camera…"),
    "camera_hint": _("Hold the pass QR code inside the frame."),
    "camera_unavailable": _("This browser cannot use the camera here. Type or paste the pass code instead."),
    "camera_denied": _("The camera is blocked. Allow camera access for this site in the browser settings, or type the code."),
    "checking": _("Checking…"),
    "empty_code": _("Type or paste a pass code first."),
    "state_valid": _("Valid pass"),
    "state_valid_note": _("Not redeemed yet. Redeem it to let the holder in."),
    "state_redeemed": _("Already redeemed"),
    "state_redeemed_note": _("This pass was redeemed at %(time)s. Do not admit it again."),
    "state_local_duplicate": _("Already admitted on this phone"),
    "state_local_duplicate_note": _("Admitted at %(time)s on this phone. Recorded as a conflict."),
    "state_revoked": _("Pass cancelled"),
    "state_revoked_note": _("The holder was refunded, so this pass is no longer valid."),
    "state_not_yet_valid": _("Not valid yet"),
    "state_not_yet_valid_note": _("This pass is valid from %(time)s."),
    "state_expired": _("Pass expired"),
    "state_expired_note": _("This pass was valid until %(time)s."),
    "state_foreign": _("Not a pass for this booth"),
    "state_foreign_note": _("This pass is genuine but belongs to another exhibitor."),
    "state_forged": _("Not a valid pass code"),
    "state_forged_note": _("The code is damaged or was not issued by the expo. Ask the holder to open the pass again."),
    "state_unlisted": _("Genuine pass, not on this booth's list"),
    "state_unlisted_note": _(
        "The signature is genuine, but this phone's pass list (from %(time)s) does not have it: it may be another "
        "booth's pass or bought since. It is checked when the network is back."),
    "state_unverifiable": _("This phone cannot check passes offline"),
    "state_unverifiable_note": _("Its browser cannot verify signatures. Wait for the network, or update the browser."),
    "redeemed_now": _("Redeemed"),
    "redeemed_now_note": _("Let the holder in. Redeemed at %(time)s."),
    "redeeming": _("Redeeming…"),
    "queued_now": _("Admitted offline"),
    "queued_now_note": _("Let the holder in. Saved on this phone at %(time)s; it is sent when the network is back."),
    "redeem": _("Redeem pass"),
    "redeem_offline": _("Redeem offline"),
    "admit_anyway": _("Admit anyway (checked later)"),
    "next": _("Next pass"),
    "holder": _("Holder"),
    "product": _("Product"),
    "valid": _("Valid"),
    "redeemed_at": _("Redeemed"),
    "not_redeemed": _("Not yet"),
    "any_time": _("any time"),
    "unknown_holder": _("Unknown until back online"),
    "checked_offline": _("Checked offline on this phone."),
    "checked_online": _("Checked with the server just now."),
    "queue_empty": _("Nothing waiting: every redemption is synced."),
    "queue_waiting": _("Waiting to sync: %(count)s"),
    "sync_now": _("Sync now"),
    "syncing": _("Syncing…"),
    "synced_at": _("Last synced at %(time)s."),
    "never_synced": _("Not synced yet."),
    "sync_failed": _("Could not reach the server; retrying in %(seconds)s s."),
    "sync_done": _("Back online. Redemptions synced: %(count)s."),
    "signed_out": _("Your sign-in has expired. Sign in again to sync; saved redemptions stay on this phone."),
    "sign_in_again": _("Sign in again"),
    "list_updated": _("Pass list: %(count)s passes, updated %(time)s."),
    "list_missing": _("No pass list on this phone yet: offline checks need one. Open this page once while online."),
    "conflict_already_redeemed": _("Already redeemed at %(time)s, on another device or earlier."),
    "conflict_duplicate": _("The same pass was admitted twice."),
    "conflict_local_duplicate": _("Scanned again; it was admitted at %(time)s on this phone."),
    "conflict_not_found": _("Not a pass of this booth."),
    "conflict_revoked": _("The pass was cancelled (refunded)."),
    "conflict_not_valid_now": _("The pass was not valid at that time."),
    "conflict_invalid_time": _("This phone's clock was wrong; the redemption was refused."),
    "admitted_at": _("admitted %(time)s"),
    "dismiss": _("Clear conflicts"),
    "unsynced_on_logout": _(
        "Redemptions not synced yet: %(count)s. They stay on this phone and are sent after you sign in again. Sign out?"),
}


def _config(request: HttpRequest, exhibitor: Exhibitor) -> dict[str, Any]:
    return {
        "exhibitor": exhibitor.slug,
        "userId": request.user.pk,
        "publicKey": signing.public_key_b64(),
        "keyId": signing.key_id(),
        "csrfToken": get_token(request),
        "timeZone": settings.TIME_ZONE,
        "language": get_language(),
        "api": {
            "lookup": reverse("v1:pass-lookup", kwargs={"version": "v1"}),
            "redeemBatch": reverse("v1:pass-redeem-batch", kwargs={"version": "v1"}),
            "roster": reverse("v1:pass-roster", kwargs={"version": "v1"}) + f"?exhibitor={exhibitor.slug}",
        },
        "loginUrl": f"{reverse('admin:login')}?next={request.get_full_path()}",
        "serviceWorker": reverse("booth:service-worker"),
        "nobleUrl": static("booth/vendor/noble-ed25519.js"),
        "assets": [static(name) for name in ("booth/booth.css", "booth/booth.js", "booth/vendor/jsQR.js",
                                             "booth/vendor/noble-ed25519.js")],
    }


@never_cache
@require_GET
def booth(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    exhibitors = list(selectors.booth_exhibitors(user=request.user))
    operator = is_operator(request.user)
    if not exhibitors:
        return render(request, "booth/no_access.html", {"is_operator": operator}, status=403)
    slug = request.GET.get("exhibitor", "")
    exhibitor = next((e for e in exhibitors if e.slug == slug), None) if slug else None
    if exhibitor is None and not slug and len(exhibitors) == 1 and not operator:
        exhibitor = exhibitors[0]
    if exhibitor is None:
        choices = [(e, selectors.exhibitor_display_name(e)) for e in exhibitors]
        return render(request, "booth/choose.html", {"choices": choices, "unknown": bool(slug), "is_operator": operator},
                      status=404 if slug else 200)
    context = {
        "exhibitor": exhibitor,
        "exhibitor_name": selectors.exhibitor_display_name(exhibitor),
        "can_switch": len(exhibitors) > 1 or operator,
        "is_operator": operator,
        "config": _config(request, exhibitor),
        "messages_json": MESSAGES,
    }
    return render(request, "booth/booth.html", context)


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker script; served from /booth/ so that its scope covers the page."""
    response = render(request, "booth/sw.js", {"static_prefix": f"{settings.STATIC_URL}booth/"},
                      content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("booth:page")
    response["Cache-Control"] = "no-cache"
    return response
