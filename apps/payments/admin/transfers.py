"""Transfers and reversals: exhibitor staff see their own, operators all and retry."""

from collections import defaultdict
from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from apps.orders.models import OrderLine
from apps.payments.admin.common import (
    REVERSAL_STATUS,
    TRANSFER_STATUS,
    StaffReadableMixin,
    _label,
    _status_labels,
)
from apps.payments.models import (
    Transfer,
    TransferReversal,
    TransferStatus,
)
from apps.payments.providers import PaymentProviderError
from apps.payments.services.common import commission_of
from apps.payments.services.payouts import (
    reversal_retry,
    transfer_retry,
)
from marketplace.admin import (
    AuditTrailMixin,
    ExhibitorScopedAdmin,
    ReadOnlyAdminMixin,
    ScopedRelatedDropdownFilter,
)
from marketplace.money import format_money
from marketplace.tenancy import is_operator


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
