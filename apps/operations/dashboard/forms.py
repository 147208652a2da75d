"""The sales report's small form: a date range and, for operators (or staff of several
exhibitors), which exhibitor. Choices are tenancy-scoped, so another exhibitor's id is an invalid
choice, never a silent export."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import DATETIME_CLASSES, SELECT_CLASSES

from apps.operations.dashboard import selectors
from apps.operations.dashboard.formatting import local_today, week_start
from marketplace.tenancy import is_operator

MAX_DAYS = 366
FORMATS = {"csv": "CSV", "xlsx": "Excel (XLSX)"}


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date", "class": " ".join(DATETIME_CLASSES)}, format="%Y-%m-%d")


class SalesReportForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=_date_widget(),
                                error_messages={"invalid": _("Enter a date like 2026-11-25.")})
    date_to = forms.DateField(label=_("To"), widget=_date_widget(),
                              error_messages={"invalid": _("Enter a date like 2026-11-25.")})
    exhibitor: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Exhibitor"), queryset=None, required=False,
        widget=forms.Select(attrs={"class": " ".join(SELECT_CLASSES)}),
        error_messages={"invalid_choice": _("Choose one of the exhibitors in the list.")},
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["exhibitor"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.report_exhibitor_choices(user)
        field.empty_label = str(_("All exhibitors") if is_operator(user) else _("All my exhibitors"))
        # Staff of one exhibitor have nothing to choose: the report is theirs.
        self.sole_exhibitor_id = selectors.sole_exhibitor(user)
        self.choose_exhibitor = self.sole_exhibitor_id is None

    @staticmethod
    def default_range(today: date | None = None) -> dict[str, date]:
        """This week so far (Monday to today, expo time)."""
        today = today or local_today()
        return {"date_from": week_start(today), "date_to": today}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("exhibitor") is None and self.sole_exhibitor_id is not None and "exhibitor" not in self.errors:
            field = self.fields["exhibitor"]
            assert isinstance(field, forms.ModelChoiceField)
            assert field.queryset is not None
            data["exhibitor"] = field.queryset.filter(pk=self.sole_exhibitor_id).first()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end date must be on or after the start date."))
            elif end - start > timedelta(days=MAX_DAYS - 1):
                self.add_error("date_to", _("Choose at most %(days)s days.") % {"days": MAX_DAYS})
        return data
