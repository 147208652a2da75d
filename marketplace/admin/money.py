"""Money in the admin: amounts shown and typed in major units with their currency ("CNY 19.99"),
never the stored minor units; commission rates as percentages ("10 %"), never basis points."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminDecimalFieldWidget

from marketplace.money import MoneyError, exponent, format_money, to_major, to_minor


def money_display(amount_field: str, currency_field: str = "currency", *, description: Any,
                  ordering: str | None = None) -> Callable[[Any, Any], str]:
    """A list_display / readonly_fields column showing a minor-unit amount as "CNY 19.99".

        total_display = money_display("total", description=_("Total"))

    An empty amount shows as "-" (the admin's empty value).
    """

    def column(model_admin: Any, obj: Any) -> str:
        amount = getattr(obj, amount_field, None) if obj is not None else None
        if amount is None:
            return "-"
        return format_money(amount, str(getattr(obj, currency_field, None) or settings.MARKETPLACE["DEFAULT_CURRENCY"]))

    column.short_description = description  # type: ignore[attr-defined]
    column.admin_order_field = ordering or amount_field  # type: ignore[attr-defined]
    return column


def format_bps_percent(bps: int | None) -> str:
    """Basis points as a percentage for people: 1000 -> "10 %", 1250 -> "12.5 %", None -> "-"."""
    if bps is None:
        return "-"
    percent = (Decimal(bps) / 100).normalize()
    return _("%(percent)s %%") % {"percent": f"{percent:f}"}


class PercentAsBasisPointsField(forms.DecimalField):
    """A rate typed as a percentage (10 or 12.5), cleaned to integer basis points (1000, 1250).

    At most two decimals (a basis point is 0.01 %), from 0 to 100.
    """

    widget = UnfoldAdminDecimalFieldWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 5)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):  # the stored basis points, shown as a percentage
            return f"{(Decimal(value) / 100).normalize():f}"
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        percent = super().to_python(value)
        if percent is None:
            return None
        if not Decimal(0) <= percent <= Decimal(100):
            raise ValidationError(_("Enter a percentage between 0 and 100."), code="range")
        bps = percent * 100
        if bps != bps.to_integral_value():
            raise ValidationError(_("Use at most two decimals, e.g. 12.25."), code="max_decimal_places")
        return int(bps)

    def validate(self, value: Any) -> None:
        forms.Field.validate(self, value)

    def run_validators(self, value: Any) -> None:
        # DecimalField's digit validators expect a Decimal; check the percentage it came from.
        if value not in self.empty_values:
            super().run_validators(Decimal(value) / 100)

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"step": "0.01", "min": "0", "max": "100"})
        return attrs


class MajorUnitsMoneyField(forms.DecimalField):
    """A price typed in major units (19.99). The form mixin converts it to minor units.

    Decimal places are checked per currency by `marketplace.money.to_minor`, so the field itself
    only refuses what is never a price (non-numbers, negatives).
    """

    widget = UnfoldAdminDecimalFieldWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("help_text", _("e.g. 19.99"))
        super().__init__(**kwargs)

    def widget_attrs(self, widget: Any) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs["step"] = "any"
        return attrs


class MajorUnitsMoneyFormMixin(forms.ModelForm):
    """ModelForm mixin for integer minor-unit columns entered in major units.

    `money_fields` maps each minor-unit model field to the field holding its currency code;
    declare the same names as `MajorUnitsMoneyField`s on the form.
    """

    money_fields: dict[str, str] = {"price": "currency"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, currency_field in self.money_fields.items():
            minor = getattr(self.instance, name, None)
            if name in self.fields and minor is not None and name not in (kwargs.get("initial") or {}):
                self.initial[name] = to_major(minor, self._currency(currency_field))

    def _currency(self, currency_field: str) -> str:
        cleaned = getattr(self, "cleaned_data", {}).get(currency_field)
        return str(cleaned or getattr(self.instance, currency_field, "") or settings.MARKETPLACE["DEFAULT_CURRENCY"]).upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        for name, currency_field in self.money_fields.items():
            amount = cleaned.get(name)
            if name not in self.fields or amount is None:
                continue
            currency = self._currency(currency_field)
            try:
                cleaned[name] = to_minor(amount, currency)
            except MoneyError:
                places = exponent(currency)
                self.add_error(name, _("%(currency)s prices take at most %(places)d decimal places.")
                               % {"currency": currency, "places": places} if places
                               else _("%(currency)s prices are whole numbers.") % {"currency": currency})
        return cleaned
