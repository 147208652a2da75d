"""The refund confirmation flow of the order admins (apps.operations.admin.orders).

Every refund goes through a confirmation page that lists exactly what will be refunded (lines,
amount, to whom); only its confirmed POST calls the refunds service, and the plan is recomputed
from the database then, never taken from the form.
"""

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from apps.orders.models import REFUNDABLE, Order
from apps.payments.models import RefundStatus
from apps.payments.services.payments import payment_paying_order
from apps.payments.services.refunds import refund_create, refund_lines_value, refund_remaining, refund_taken
from marketplace.errors import DomainError
from marketplace.money import format_money
from marketplace.tenancy import exhibitor_ids_for, is_operator

REFUND_REASON_MAX = 300


def _refund_plan(request: HttpRequest, orders: list[Order], line_ids: set[int] | None = None) -> list[dict[str, Any]]:
    """What a refund of these orders would send, per order, for the acting user.

    Operators: what is left of each whole order (or, with `line_ids`, those lines). Staff: their
    own lines not refunded yet (or those of `line_ids` among them). Skipped orders carry why."""
    operator = is_operator(request.user)
    allowed = None if operator else exhibitor_ids_for(request.user)
    plan = []
    for order in orders:
        order_lines = list(order.lines.all())  # prefetched by the callers
        lines = [line for line in order_lines
                 if (allowed is None or line.exhibitor_id in allowed) and (line_ids is None or line.pk in line_ids)]
        open_lines = [line for line in lines if not hasattr(line, "refund_line")]
        item: dict[str, Any] = {"order": order, "customer": order.user.email, "currency": order.currency,
                                "lines": [{"title": line.title, "quantity": line.quantity,
                                           "amount": format_money(line.total, line.currency)} for line in open_lines],
                                "line_ids": [line.pk for line in open_lines],
                                "whole_order": operator and line_ids is None, "amount": 0, "skip": ""}
        payment = payment_paying_order(order_id=order.pk) if order.status in REFUNDABLE else None
        if order.status not in REFUNDABLE:
            item["skip"] = _("Only paid orders are refunded; this one is %(status)s.") % {
                "status": order.get_status_display()}
        elif payment is None:
            item["skip"] = _("This order has no captured payment.")
        elif item["whole_order"]:
            item["amount"] = max(payment.amount - refund_taken(payment_id=payment.pk), 0)
            if item["amount"] <= 0:
                item["skip"] = _("Nothing is left to refund on this order.")
        elif not open_lines:
            item["skip"] = _("These items were refunded already.")
        else:  # the refunds service's own rule: with a voucher, its funder gets the subsidy back
            item["amount"] = max(refund_lines_value(order_id=order.pk, lines=order_lines, chosen=open_lines)[0], 0)
            if item["amount"] <= 0:
                item["skip"] = _("The voucher paid for all of these lines; there is nothing to give back to the shopper.")
        item["amount_display"] = format_money(item["amount"], order.currency)
        plan.append(item)
    return plan


def _refund_totals(plan: list[dict[str, Any]]) -> list[str]:
    totals: dict[str, int] = defaultdict(int)
    for item in plan:
        if not item["skip"]:
            totals[item["currency"]] += item["amount"]
    return [format_money(amount, currency) for currency, amount in sorted(totals.items())]


def _refund_execute(request: HttpRequest, model_admin: ModelAdmin, plan: list[dict[str, Any]], reason: str) -> None:
    for item in plan:
        if item["skip"]:
            continue
        order = item["order"]
        try:
            if item["whole_order"]:
                refund = refund_remaining(order_id=order.pk, actor=request.user, reason=reason)
            else:
                refund = refund_create(order_id=order.pk, line_ids=item["line_ids"], actor=request.user, reason=reason)
        except DomainError as exc:
            model_admin.message_user(request, f"{order.number}: {exc.detail}", messages.ERROR)
            continue
        amount = format_money(refund.amount, refund.currency)
        if refund.status == RefundStatus.SUCCEEDED:
            model_admin.message_user(request, _("%(order)s: refunded %(amount)s to %(customer)s.") % {
                "order": order.number, "amount": amount, "customer": item["customer"]}, messages.SUCCESS)
        elif refund.status == RefundStatus.PENDING:
            model_admin.message_user(request, _("%(order)s: refund of %(amount)s sent; the payment provider has not "
                                                "confirmed it yet.") % {"order": order.number, "amount": amount},
                                     messages.WARNING)
        else:
            model_admin.message_user(request, _("%(order)s: the payment provider refused the refund of %(amount)s; "
                                                "the expo team has been told.") % {"order": order.number,
                                                                                   "amount": amount},
                                     messages.ERROR)


def refund_response(request: HttpRequest, model_admin: ModelAdmin, orders: list[Order], *,
                     line_ids: set[int] | None, back: str, title: Any) -> HttpResponse:
    """GET: the confirmation page. POST with confirm: refund, then back to the list."""
    plan = _refund_plan(request, orders, line_ids)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        _refund_execute(request, model_admin, plan, request.POST.get("reason", "").strip()[:REFUND_REASON_MAX])
        return HttpResponseRedirect(back)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "plan": plan,
        "totals": _refund_totals(plan),
        "any_refundable": any(not item["skip"] for item in plan),
        "back": back,
        "reason_max": REFUND_REASON_MAX,
        "ids": (request.POST if request.method == "POST" else request.GET).get("ids", ""),
    }
    return TemplateResponse(request, "orders/admin/refund_confirm.html", context)


def selected_ids(raw: str) -> list[str]:
    """The ids a refund page was given (comma-separated), at most 100."""
    return [part for part in raw.split(",") if part][:100]
