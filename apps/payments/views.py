"""The simulated provider's stand-in for Stripe's hosted Connect onboarding page.

Offline (no Stripe keys), "Set up payouts" sends the exhibitor here instead of to Stripe. The page
says plainly that it is a simulation; submitting it completes the onboarding through the payouts
service, which enables payouts and sends the exhibitor's waiting transfers. Only the exhibitor's
own staff and operators may open it; anyone else gets 404, as for any foreign id.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from apps.payments.admin.payouts import payouts_summary
from apps.payments.models import ConnectAccount, ConnectStatus, Transfer, TransferStatus
from apps.payments.services.payouts import connect_simulated_onboarding_complete
from marketplace.errors import DomainError
from marketplace.tenancy import can_access_exhibitor


def _account(request: HttpRequest, reference: str) -> ConnectAccount:
    account = (ConnectAccount.objects.select_related("exhibitor")
               .filter(account_reference=reference, provider="simulated").first())
    if account is None or not can_access_exhibitor(request.user, account.exhibitor_id):
        raise Http404("No such account.")
    return account


@staff_member_required
@require_http_methods(["GET", "POST"])
def simulated_onboarding(request: HttpRequest, reference: str) -> HttpResponse:
    account = _account(request, reference)
    payouts_page = reverse("admin:payments_payouts_exhibitor", args=[account.exhibitor_id])
    if request.method == "POST":
        if request.POST.get("step") != "complete":
            return redirect(payouts_page)
        try:
            account = connect_simulated_onboarding_complete(account_id=account.pk, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc.detail))
            return redirect(payouts_page)
        sent = Transfer.objects.filter(exhibitor_id=account.exhibitor_id, status=TransferStatus.SENT).count()
        messages.success(request, ngettext(
            "Payouts are enabled. %(count)d payout has been paid to your account.",
            "Payouts are enabled. %(count)d payouts have been paid to your account.", sent) % {"count": sent})
        return redirect(payouts_page)
    exhibitor = account.exhibitor
    # The Payouts page's own figures (one transfer per exhibitor and order), so both pages agree.
    summary = payouts_summary(exhibitor)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Set up payouts (simulated)"),
        "account": account,
        "exhibitor": exhibitor,
        "done": account.status == ConnectStatus.ENABLED,
        "waiting": summary["waiting_count"],
        "waiting_sales": summary["waiting_sales"],
        "payouts_page": payouts_page,
        "site_url": None,  # the page has its own way back; "Return to site" would leave the admin
    }
    return TemplateResponse(request, "payments/simulated/onboarding.html", context)
