"""Payout accounts and the Payouts page, and the exhibitor admin's payouts part."""

from typing import Any
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db.models import Count, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

# Imported first so the exhibitor admin is registered before payments extends it (end of module).
from apps.exhibitors.admin import ExhibitorAdmin
from apps.exhibitors.models import Exhibitor
from apps.orders.models import OrderLine
from apps.payments.admin.common import (
    ACCOUNT_STATUS,
    TRANSFER_STATUS,
    StaffReadableMixin,
    _label,
    _status_labels,
)
from apps.payments.models import (
    ConnectAccount,
    ConnectStatus,
    Transfer,
    TransferReversal,
    TransferStatus,
)
from apps.payments.providers import PaymentProviderError, configured_provider_name
from apps.payments.services.payouts import (
    OPEN_TRANSFER,
    connect_account_sync,
    connect_onboarding_start,
)
from marketplace.admin import (
    ExhibitorScopedAdmin,
    ReadOnlyAdminMixin,
    format_bps_percent,
)
from marketplace.money import format_money
from marketplace.tenancy import is_operator, scope_to_user


def _by_currency(rows: Any, field: str) -> list[str]:
    return [format_money(row[field] or 0, row["currency"]) for row in rows if row[field]]


def payouts_summary(exhibitor: Any) -> dict[str, Any]:
    """What the Payouts page shows of one exhibitor: its account, what waits and what was paid."""

    account = ConnectAccount.objects.filter(exhibitor=exhibitor).first()
    transfers = Transfer.objects.filter(exhibitor=exhibitor)
    waiting_orders = transfers.filter(status__in=OPEN_TRANSFER).values("order_id")
    waiting_sales = (OrderLine.objects.filter(exhibitor=exhibitor, order_id__in=waiting_orders)
                     .values("currency").annotate(total=Sum("total")).order_by("currency"))
    sent = (transfers.filter(status=TransferStatus.SENT).values("currency")
            .annotate(total=Sum("amount"), count=Count("id")).order_by("currency"))
    taken_back = (TransferReversal.objects.filter(transfer__exhibitor=exhibitor, status=TransferStatus.SENT)
                  .values("transfer__currency").annotate(total=Sum("amount")))
    taken = {row["transfer__currency"]: row["total"] for row in taken_back}
    paid = [{"currency": row["currency"], "total": row["total"] - taken.get(row["currency"], 0)} for row in sent]
    status = account.status if account else None
    variant, text = _label(ACCOUNT_STATUS, status)
    return {
        "account": account,
        "status_text": text,
        "status_variant": variant,
        "enabled": status == ConnectStatus.ENABLED,
        "waiting_count": transfers.filter(status__in=OPEN_TRANSFER).count(),
        "waiting_sales": _by_currency(waiting_sales, "total"),
        "paid_count": sum(row["count"] for row in sent),
        "paid": _by_currency(paid, "total"),
        "failed_count": transfers.filter(status=TransferStatus.FAILED).count(),
        "commission_percent": format_bps_percent(exhibitor.commission_bps),
        "recent": [
            {"order": t.order.number, "status": _label(TRANSFER_STATUS, t.status),
             "amount": format_money(t.amount, t.currency) if t.status in (TransferStatus.SENT, TransferStatus.SENDING)
             else "—", "date": t.updated_at}
            for t in transfers.select_related("order").order_by("-created_at")[:10]
        ],
    }


def exhibitor_payouts_cell(exhibitor: Any) -> str:
    """The exhibitor change page's Payouts row: account status, waiting payouts, a link."""
    from django.template.loader import render_to_string

    if exhibitor is None or exhibitor.pk is None:
        return str(_("Available once the exhibitor is saved."))
    account = ConnectAccount.objects.filter(exhibitor=exhibitor).first()
    variant, text = _label(ACCOUNT_STATUS, account.status if account else None)
    badge = render_to_string("unfold/helpers/label.html", {"variant": variant, "text": text})
    waiting = Transfer.objects.filter(exhibitor=exhibitor, status__in=OPEN_TRANSFER).count()
    note = (_("%(count)d payout(s) waiting.") % {"count": waiting}) if waiting else ""
    return format_html('<span class="flex flex-row flex-wrap items-center gap-3">{} <span>{}</span> '
                       '<a class="font-semibold text-primary-600 dark:text-primary-500" href="{}">{}</a></span>',
                       badge, note, reverse("admin:payments_payouts_exhibitor", args=[exhibitor.pk]),
                       _("Open payouts") if account and account.status == ConnectStatus.ENABLED
                       else _("Set up payouts"))


def _local(url: str) -> str:
    """The path and query of one of our own absolute links (the simulated onboarding page), so the
    redirect stays on whatever host the admin is served from."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@admin.register(ConnectAccount)
class ConnectAccountAdmin(StaffReadableMixin, ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    """Payout accounts. Operators get the list (and its actions); staff are sent to their Payouts
    page, where they set up and follow their own account."""

    exhibitor_path = "exhibitor_id"
    exhibitor_field = None
    list_display = ("exhibitor", "account_reference", "status_display", "provider", "updated_at", "payouts_link")
    list_filter = ("status", "provider")
    list_select_related = ("exhibitor",)
    fields = ("exhibitor", "provider", "account_reference", "status", "onboarding_url", "links_created", "created_at",
              "updated_at")
    readonly_fields = fields
    actions = ("refresh", "new_link")

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("payouts/", view(self.payouts_index_view), name="payments_payouts"),
            path("payouts/<int:exhibitor_id>/", view(self.payouts_view), name="payments_payouts_exhibitor"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not is_operator(request.user):
            # Also where Stripe sends the exhibitor back after onboarding: re-read the account.
            return redirect(f"{reverse('admin:payments_payouts')}?check=1")
        return super().changelist_view(request, extra_context)

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @display(description=_("Status"), ordering="status", label=_status_labels(ACCOUNT_STATUS))
    def status_display(self, account: ConnectAccount) -> tuple[str, str]:
        return _label(ACCOUNT_STATUS, account.status)

    @display(description=_("Payouts page"))
    def payouts_link(self, account: ConnectAccount) -> str:
        return format_html('<a class="text-primary-600" href="{}">{}</a>',
                           reverse("admin:payments_payouts_exhibitor", args=[account.exhibitor_id]), _("Open"))

    @action(description=_("Re-check with the provider"), permissions=["refresh"])
    def refresh(self, request: HttpRequest, queryset: QuerySet[ConnectAccount]) -> None:
        for account in queryset:
            try:
                connect_account_sync(account_id=account.pk)
            except PaymentProviderError as exc:
                self.message_user(request, f"{account}: {exc}", messages.ERROR)

    @action(description=_("New onboarding link"), permissions=["refresh"])
    def new_link(self, request: HttpRequest, queryset: QuerySet[ConnectAccount]) -> None:
        start_onboarding(self, request, [account.exhibitor_id for account in queryset])

    # The Payouts page ------------------------------------------------------------------------------

    def _exhibitors(self, request: HttpRequest) -> QuerySet[Any]:

        return scope_to_user(Exhibitor.objects.all(), request.user, path="id").order_by("name")

    def _context(self, request: HttpRequest, title: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "title": title,
                "simulated": configured_provider_name() == "simulated", "is_operator": is_operator(request.user)}

    def payouts_index_view(self, request: HttpRequest) -> HttpResponse:
        exhibitors = list(self._exhibitors(request))
        if len(exhibitors) == 1 and not is_operator(request.user):
            query = f"?{request.GET.urlencode()}" if request.GET else ""
            return redirect(f"{reverse('admin:payments_payouts_exhibitor', args=[exhibitors[0].pk])}{query}")
        accounts = {a.exhibitor_id: a for a in ConnectAccount.objects.filter(exhibitor__in=exhibitors)}
        waiting = dict(Transfer.objects.filter(exhibitor__in=exhibitors, status__in=OPEN_TRANSFER)
                       .values_list("exhibitor_id").annotate(n=Count("id")).order_by())
        rows = []
        for exhibitor in exhibitors:
            account = accounts.get(exhibitor.pk)
            rows.append({"exhibitor": exhibitor, "status": _label(ACCOUNT_STATUS, account.status if account else None),
                         "waiting": waiting.get(exhibitor.pk, 0),
                         "url": reverse("admin:payments_payouts_exhibitor", args=[exhibitor.pk])})
        context = {**self._context(request, _("Payouts")), "rows": rows}
        return TemplateResponse(request, "payments/admin/payouts_index.html", context)

    def payouts_view(self, request: HttpRequest, exhibitor_id: int) -> HttpResponse:
        exhibitor = self._exhibitors(request).filter(pk=exhibitor_id).first()
        if exhibitor is None:
            raise Http404("No such exhibitor.")  # another exhibitor's page: as if it did not exist
        here = reverse("admin:payments_payouts_exhibitor", args=[exhibitor.pk])
        if request.method == "POST":
            return self._payouts_post(request, exhibitor, here)
        account = ConnectAccount.objects.filter(exhibitor=exhibitor).first()
        if request.GET.get("check") and account is not None and account.status != ConnectStatus.ENABLED:
            try:
                connect_account_sync(account_id=account.pk)
            except PaymentProviderError as exc:
                messages.error(request, _("Could not reach the payment provider: %(error)s") % {"error": exc})
        context = {**self._context(request, _("Payouts: %(name)s") % {"name": exhibitor.name}),
                   "exhibitor": exhibitor, **payouts_summary(exhibitor),
                   "transfers_url": f"{reverse('admin:payments_transfer_changelist')}?exhibitor__id__exact={exhibitor.pk}",
                   "reversals_url": reverse("admin:payments_transferreversal_changelist")}
        return TemplateResponse(request, "payments/admin/payouts.html", context)

    def _payouts_post(self, request: HttpRequest, exhibitor: Any, here: str) -> HttpResponse:
        step = request.POST.get("step")
        if step == "refresh":
            account = ConnectAccount.objects.filter(exhibitor=exhibitor).first()
            if account is not None:
                try:
                    status = connect_account_sync(account_id=account.pk)
                except PaymentProviderError as exc:
                    messages.error(request, _("Could not reach the payment provider: %(error)s") % {"error": exc})
                else:
                    messages.info(request, _("Payout account status: %(status)s.")
                                  % {"status": ACCOUNT_STATUS[ConnectStatus(status)][0]})
            return redirect(here)
        if step != "start":
            return redirect(here)
        try:
            account = connect_onboarding_start(exhibitor_id=exhibitor.pk, actor=request.user)
        except PaymentProviderError as exc:
            messages.error(request, _("Could not start payout onboarding: %(error)s") % {"error": exc})
            return redirect(here)
        if account.provider == "simulated":
            return HttpResponseRedirect(_local(account.onboarding_url))
        return HttpResponseRedirect(account.onboarding_url)  # Stripe's hosted onboarding


def start_onboarding(model_admin: ModelAdmin, request: HttpRequest, exhibitor_ids: list[int]) -> None:
    """Shared by the exhibitor admin action: start onboarding, show each link to hand over."""
    for exhibitor_id in exhibitor_ids:
        try:
            account = connect_onboarding_start(exhibitor_id=exhibitor_id, actor=request.user)
        except PaymentProviderError as exc:
            model_admin.message_user(request, _("Exhibitor %(id)s: %(error)s") % {"id": exhibitor_id, "error": exc},
                                     messages.ERROR)
            continue
        link = account.onboarding_url
        if account.provider == "simulated":
            link = request.build_absolute_uri(_local(link))
        model_admin.message_user(
            request, _("%(exhibitor)s: send this onboarding link: %(link)s") % {"exhibitor": account.exhibitor,
                                                                              "link": link},
            messages.SUCCESS)



# --- The exhibitor admin's payouts part -------------------------------------------------------------
# Payments extends the exhibitor admin (exhibitors sits below payments and must not import it):
# the Payouts row and the onboarding action are added here, at registration time.


class ExhibitorPayoutsAdmin(ExhibitorAdmin):
    """The exhibitor admin plus its payouts: the account's row and the onboarding action."""

    actions = (*ExhibitorAdmin.actions, "start_payout_onboarding")
    fieldsets = (*ExhibitorAdmin.fieldsets, (_("Payouts"), {"fields": ("payouts",)}))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), "payouts")

    @display(description=_("Payout account"))
    def payouts(self, obj: Exhibitor | None) -> str:
        return exhibitor_payouts_cell(obj)

    @action(description=_("Start payout onboarding (Stripe Connect Express)"), permissions=["approve"])
    def start_payout_onboarding(self, request: HttpRequest, queryset: QuerySet[Exhibitor]) -> None:
        start_onboarding(self, request, list(queryset.values_list("pk", flat=True)))


admin.site.unregister(Exhibitor)
admin.site.register(Exhibitor, ExhibitorPayoutsAdmin)
