"""Payments in the admin.

Operators see every money row (payments, refunds, the ledger, the webhook inbox), replay events
and retry payouts. Exhibitor staff see, for their own exhibitors only (marketplace.tenancy):
the Payouts page (their payout account, its onboarding, what is waiting and what was paid) and
read-only lists of their transfers and reversals. Another exhibitor's ids answer 404. Writes go
through the services; nothing here saves a model.
"""

from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

# Imported first so the exhibitor admin is registered before payments extends it (end of module).
from apps.exhibitors.admin import ExhibitorAdmin
from apps.exhibitors.models import Exhibitor
from apps.payments.models import (
    ConnectAccount,
    ConnectStatus,
    LedgerEntry,
    Payment,
    Refund,
    Transfer,
    TransferReversal,
    TransferStatus,
    WebhookEvent,
)
from apps.payments.providers import PaymentProviderError, configured_provider_name
from apps.payments.services.common import commission_of
from apps.payments.services.payouts import (
    OPEN_TRANSFER,
    connect_account_sync,
    connect_onboarding_start,
    reversal_retry,
    transfer_retry,
)
from apps.payments.services.webhooks import webhook_replay
from marketplace.admin import (
    AuditTrailMixin,
    ExhibitorScopedAdmin,
    OperatorOnlyAdminMixin,
    ReadOnlyAdminMixin,
    ScopedRelatedDropdownFilter,
    format_bps_percent,
)
from marketplace.money import format_money
from marketplace.tenancy import exhibitor_ids_for, is_operator, scope_to_user

# What a transfer's status means to the people who read it, and the badge colour it gets.
TRANSFER_STATUS: dict[Any, tuple[Any, str]] = {
    TransferStatus.PENDING: (_("Queued"), "info"),
    TransferStatus.AWAITING_ACCOUNT: (_("Waiting for payout account"), "warning"),
    TransferStatus.SENDING: (_("Sending"), "info"),
    TransferStatus.SENT: (_("Paid out"), "success"),
    TransferStatus.FAILED: (_("Failed"), "danger"),
    TransferStatus.NOTHING_DUE: (_("Nothing due (refunded)"), "default"),
}
REVERSAL_STATUS: dict[Any, tuple[Any, str]] = {
    TransferStatus.PENDING: (_("Queued"), "info"),
    TransferStatus.SENT: (_("Taken back"), "success"),
    TransferStatus.FAILED: (_("Failed"), "danger"),
}
ACCOUNT_STATUS: dict[Any, tuple[Any, str]] = {
    None: (_("Not set up"), "default"),
    ConnectStatus.PENDING: (_("Onboarding not finished"), "warning"),
    ConnectStatus.RESTRICTED: (_("More details needed"), "warning"),
    ConnectStatus.ENABLED: (_("Payouts enabled"), "success"),
}


def _label(mapping: dict[Any, tuple[Any, str]], value: Any) -> tuple[str, str]:
    """(badge colour, text) as unfold's `display(label=...)` takes it."""
    text, variant = mapping.get(value, (value, "default"))
    return variant, str(text)


def _status_labels(mapping: dict[Any, tuple[Any, str]]) -> dict[str, str]:
    return {variant: variant for _text, variant in mapping.values()}


def _is_staff_member(request: HttpRequest) -> bool:
    return bool(exhibitor_ids_for(request.user))


class StaffReadableMixin:
    """Open to operators and to exhibitor staff, whatever model permissions their group holds;
    the rows themselves are scoped by ExhibitorScopedMixin (put it before the ModelAdmin)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or _is_staff_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user) or _is_staff_member(request)


class OperatorReadOnlyAdmin(OperatorOnlyAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Every field read-only; the integer minor-unit amounts named in `money_fields` are shown in
    major units with the row's currency ("CNY 178.00", never "17800")."""

    money_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._money_display = {name: self._money_column(name) for name in self.money_fields}

    def _money_column(self, name: str) -> Any:
        def show(obj: Any) -> str:
            return format_money(getattr(obj, name), obj.currency)

        show.short_description = self.model._meta.get_field(name).verbose_name  # type: ignore[attr-defined]
        return show

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [self._money_display.get(f.name, f.name) for f in self.model._meta.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)


@admin.register(Payment)
class PaymentAdmin(AuditTrailMixin, OperatorReadOnlyAdmin):
    money_fields = ("amount",)
    list_display = ("order", "attempt", "provider", "provider_reference", "status", "amount_display",
                    "needs_attention", "created_at")
    list_filter = ("status", "provider", "needs_attention")
    search_fields = ("=provider_reference", "=order__number")

    @display(description=_("Amount"), ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)


@admin.register(Refund)
class RefundAdmin(AuditTrailMixin, OperatorReadOnlyAdmin):
    money_fields = ("amount",)
    list_display = ("pk", "order", "kind", "amount_display", "status", "provider_reference", "actor", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("=provider_reference", "=order__number")

    @display(description=_("Amount"), ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.currency)


# --- Transfers and reversals: staff see their own, operators all and retry ------------------------


class ReversalInline(ReadOnlyAdminMixin, TabularInline):
    model = TransferReversal
    extra = 0
    fields = ("created_at", "amount_display", "commission_display", "status_display", "failure_message")
    readonly_fields = fields
    verbose_name = _("reversal (taken back after a refund)")
    verbose_name_plural = _("reversals (taken back after refunds)")

    @display(description=_("Taken back"))
    def amount_display(self, reversal: TransferReversal) -> str:
        return format_money(reversal.amount, reversal.transfer.currency)

    @display(description=_("Commission given back"))
    def commission_display(self, reversal: TransferReversal) -> str:
        return format_money(reversal.commission_returned, reversal.transfer.currency)

    @display(description=_("Status"), label=_status_labels(REVERSAL_STATUS))
    def status_display(self, reversal: TransferReversal) -> tuple[str, str]:
        return _label(REVERSAL_STATUS, reversal.status)


@admin.register(Transfer)
class TransferAdmin(AuditTrailMixin, StaffReadableMixin, ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    """One payout per exhibitor per order. Amounts are fixed when it is sent; until then the
    lines' total is shown and what the exhibitor will receive is an estimate."""

    exhibitor_path = "exhibitor_id"
    exhibitor_field = None
    list_display = ("order_number", "exhibitor", "status_display", "sales_display", "commission_display",
                    "payout_display", "created_at", "paid_out_at")
    list_display_links = ("status_display",)
    list_filter = ("status", ("exhibitor", ScopedRelatedDropdownFilter))
    list_select_related = ("order", "exhibitor")
    search_fields = ("=order__number",)
    ordering = ("-created_at",)
    fields = ("order_number", "exhibitor", "status_display", "sales_display", "commission_display", "payout_display",
              "created_at", "paid_out_at", "provider_reference", "destination", "failure_message")
    readonly_fields = fields
    inlines = (ReversalInline,)
    actions = ("retry",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transfer]:
        from apps.orders.models import OrderLine

        sales = (OrderLine.objects.filter(order_id=OuterRef("order_id"), exhibitor_id=OuterRef("exhibitor_id"))
                 .values("order_id").annotate(total=Sum("total")).values("total"))
        return super().get_queryset(request).annotate(sales=Subquery(sales))

    def get_list_display(self, request: HttpRequest) -> Any:
        if is_operator(request.user):
            return self.list_display
        staff = {"payout_display": "paid_to_you"}
        return [staff.get(name, name) for name in self.list_display if name != "exhibitor"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_operator(request.user):
            return self.fields
        staff = {"payout_display": "paid_to_you"}
        return [staff.get(name, name) for name in self.fields if name not in ("destination", "provider_reference")]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_fields(request, obj)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        title = _("Payouts to exhibitors") if is_operator(request.user) else _("Your payouts")
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description=_("Retry selected payouts (failed or waiting)"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        outcome: dict[str, int] = defaultdict(int)
        for transfer in queryset.exclude(status__in=[TransferStatus.SENT, TransferStatus.NOTHING_DUE]):
            try:
                outcome[transfer_retry(transfer_id=transfer.pk, actor=request.user)] += 1
            except PaymentProviderError as exc:
                self.message_user(request, f"{transfer.order.number}: {exc}", messages.ERROR)
        if not outcome:
            self.message_user(request, _("Nothing to retry: the selected payouts were paid out or had nothing due."),
                              messages.WARNING)
        for status, count in sorted(outcome.items()):
            _variant, text = _label(TRANSFER_STATUS, status)
            level = messages.SUCCESS if status == TransferStatus.SENT else messages.WARNING
            self.message_user(request, _("%(count)d payout(s) now: %(status)s.") % {"count": count, "status": text},
                              level)

    @display(description=_("Order"), ordering="order__number")
    def order_number(self, transfer: Transfer) -> str:
        return format_html('<a class="text-primary-600 dark:text-primary-500" href="{}">{}</a>',
                           reverse("admin:orders_order_change", args=[transfer.order_id]), transfer.order.number)

    @display(description=_("Status"), ordering="status", label=_status_labels(TRANSFER_STATUS))
    def status_display(self, transfer: Transfer) -> tuple[str, str]:
        return _label(TRANSFER_STATUS, transfer.status)

    def _gross(self, transfer: Transfer) -> int:
        if transfer.status in (TransferStatus.SENDING, TransferStatus.SENT):
            return transfer.gross
        return int(getattr(transfer, "sales", None) or 0)

    @display(description=_("Sales"))
    def sales_display(self, transfer: Transfer) -> str:
        return format_money(self._gross(transfer), transfer.currency)

    @display(description=_("Commission"))
    def commission_display(self, transfer: Transfer) -> str:
        if transfer.status in (TransferStatus.SENDING, TransferStatus.SENT):
            return format_money(transfer.commission, transfer.currency)
        if transfer.status == TransferStatus.NOTHING_DUE:
            return "—"
        commission = commission_of(self._gross(transfer), transfer.exhibitor.commission_bps)
        return f"≈ {format_money(commission, transfer.currency)}"

    @display(description=_("Paid to the exhibitor"))
    def payout_display(self, transfer: Transfer) -> str:
        if transfer.status in (TransferStatus.SENDING, TransferStatus.SENT):
            return format_money(transfer.amount, transfer.currency)
        if transfer.status == TransferStatus.NOTHING_DUE:
            return format_money(0, transfer.currency)
        gross = self._gross(transfer)
        return f"≈ {format_money(gross - commission_of(gross, transfer.exhibitor.commission_bps), transfer.currency)}"

    @display(description=_("Paid to you"))
    def paid_to_you(self, transfer: Transfer) -> str:
        return self.payout_display(transfer)

    @display(description=_("Paid out on"), ordering="updated_at")
    def paid_out_at(self, transfer: Transfer) -> Any:
        return transfer.updated_at if transfer.status == TransferStatus.SENT else None


@admin.register(TransferReversal)
class TransferReversalAdmin(AuditTrailMixin, StaffReadableMixin, ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    """What refunds took back from payouts already sent (and the commission given back)."""

    exhibitor_path = "transfer__exhibitor_id"
    exhibitor_field = None
    list_display = ("order_number", "exhibitor", "status_display", "amount_display", "commission_display",
                    "created_at")
    list_filter = ("status",)
    list_select_related = ("transfer__order", "transfer__exhibitor")
    search_fields = ("=transfer__order__number",)
    ordering = ("-created_at",)
    fields = ("order_number", "exhibitor", "status_display", "amount_display", "commission_display", "created_at",
              "failure_message")
    readonly_fields = fields
    actions = ("retry",)

    def get_list_display(self, request: HttpRequest) -> Any:
        if is_operator(request.user):
            return self.list_display
        return [name for name in self.list_display if name != "exhibitor"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        title = _("Taken back from payouts after refunds")
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description=_("Retry selected reversals"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[TransferReversal]) -> None:
        done = 0
        for reversal in queryset.exclude(status=TransferStatus.SENT):
            try:
                if reversal_retry(reversal_id=reversal.pk, actor=request.user) == TransferStatus.SENT:
                    done += 1
            except PaymentProviderError as exc:
                self.message_user(request, f"{reversal}: {exc}", messages.ERROR)
        self.message_user(request, _("%(count)d reversal(s) sent.") % {"count": done},
                          messages.SUCCESS if done else messages.WARNING)

    @display(description=_("Order"), ordering="transfer__order__number")
    def order_number(self, reversal: TransferReversal) -> str:
        return reversal.transfer.order.number

    @display(description=_("Exhibitor"))
    def exhibitor(self, reversal: TransferReversal) -> str:
        return str(reversal.transfer.exhibitor)

    @display(description=_("Status"), ordering="status", label=_status_labels(REVERSAL_STATUS))
    def status_display(self, reversal: TransferReversal) -> tuple[str, str]:
        return _label(REVERSAL_STATUS, reversal.status)

    @display(description=_("Taken back"), ordering="amount")
    def amount_display(self, reversal: TransferReversal) -> str:
        return format_money(reversal.amount, reversal.transfer.currency)

    @display(description=_("Commission given back"))
    def commission_display(self, reversal: TransferReversal) -> str:
        return format_money(reversal.commission_returned, reversal.transfer.currency)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(OperatorReadOnlyAdmin):
    money_fields = ("amount",)
    list_display = ("created_at", "kind", "order", "exhibitor", "amount_display", "key")
    list_filter = ("kind", "currency")
    search_fields = ("=key", "=order__number")

    @display(description=_("Amount"), ordering="amount")
    def amount_display(self, entry: LedgerEntry) -> str:
        return format_money(entry.amount, entry.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(OperatorReadOnlyAdmin):
    list_display = ("received_at", "provider", "event_id", "type", "status", "attempts", "processed_at")
    list_filter = ("status", "provider", "type")
    search_fields = ("=event_id", "=object_reference")
    actions = ("replay",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description=_("Replay selected events"), permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        for event in queryset:
            webhook_replay(event_pk=event.pk)
        self.message_user(request, _("Queued %(count)d event(s) for processing.") % {"count": queryset.count()},
                          messages.SUCCESS)


# --- Payout accounts and the Payouts page ----------------------------------------------------------


def _by_currency(rows: Any, field: str) -> list[str]:
    return [format_money(row[field] or 0, row["currency"]) for row in rows if row[field]]


def payouts_summary(exhibitor: Any) -> dict[str, Any]:
    """What the Payouts page shows of one exhibitor: its account, what waits and what was paid."""
    from apps.orders.models import OrderLine

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
        from apps.exhibitors.models import Exhibitor

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
