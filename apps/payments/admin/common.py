"""What the payments admin pages share: status wording and badge colours, the staff-readable
mixin and the operators' read-only base with money columns.
"""

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from apps.payments.models import (
    ConnectStatus,
    TransferStatus,
)
from marketplace.admin import (
    OperatorOnlyAdminMixin,
    ReadOnlyAdminMixin,
)
from marketplace.money import format_money
from marketplace.tenancy import exhibitor_ids_for, is_operator

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
