"""The sales report: a date range (and, for operators, an exhibitor) exported as CSV or XLSX.

GET /admin/reports/sales/ shows the form; with valid dates it also shows the period's totals and
the first lines, and `format=csv|xlsx` downloads one row per sold order line, amounts in major
units. Bad input (garbage dates, from after to, another exhibitor's id) answers 400 with the form
and its messages, and exports nothing. Wrapped in the admin's login and staff check
(`admin.site.admin_view`, see urls.py); rows are tenancy-scoped in the selector.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from io import BytesIO
from typing import Any

import tablib
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.operations.dashboard import selectors
from apps.operations.dashboard.formatting import major, money
from apps.operations.dashboard.forms import FORMATS, SalesReportForm
from apps.operations.dashboard.labels import kind_label
from apps.operations.dashboard.selectors import ReportLine
from marketplace.tenancy import exhibitor_ids_for, is_operator

PREVIEW_ROWS = 20
MONEY_COLUMNS = (8, 9, 10, 11, 12)  # 1-based columns of the XLSX that hold amounts (H..L)


def _headers() -> list[str]:
    return [_("Date"), _("Time"), _("Order"), _("Exhibitor"), _("Product"), _("Kind"), _("Quantity"), _("Unit price"),
            _("Gross"), _("Refunded"), _("Commission"), _("Net to exhibitor"), _("Currency")]


def _row(line: ReportLine) -> list[Any]:
    local = timezone.localtime(line.paid_at, timezone.get_default_timezone())
    amounts = [major(v, line.currency) for v in (line.unit_price, line.gross, line.refunded, line.commission, line.net)]
    return [local.date(), local.strftime("%H:%M"), line.order_number, line.exhibitor_name, line.product_title,
            str(kind_label(line.kind)), line.quantity, *amounts, line.currency]


def report_dataset(lines: list[ReportLine]) -> tablib.Dataset:
    """One row per sold line, amounts as Decimals in major units (e.g. 12.50)."""
    dataset = tablib.Dataset(headers=_headers(), title=_("Sales"))
    for line in lines:
        dataset.append(_row(line))
    return dataset


def _xlsx(dataset: tablib.Dataset) -> bytes:
    """tablib's workbook with amounts shown with their decimals and readable column widths."""
    from openpyxl import load_workbook

    workbook = load_workbook(BytesIO(dataset.export("xlsx")))
    sheet = workbook.active
    assert sheet is not None
    for row in sheet.iter_rows(min_row=2):
        row[0].number_format = "yyyy-mm-dd"
        for column in MONEY_COLUMNS:
            row[column - 1].number_format = "#,##0.00"
    for index, width in enumerate((12, 7, 16, 22, 36, 13, 9, 12, 12, 12, 12, 16, 9), start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def _filename(form: SalesReportForm, extension: str) -> str:
    data = form.cleaned_data
    exhibitor = data.get("exhibitor")
    who = exhibitor.slug if exhibitor is not None else "all"
    return f"sales-{who}-{data['date_from']:%Y-%m-%d}-to-{data['date_to']:%Y-%m-%d}.{extension}"


def export_response(form: SalesReportForm, lines: list[ReportLine], fmt: str) -> HttpResponse:
    dataset = report_dataset(lines)
    if fmt == "xlsx":
        response = HttpResponse(_xlsx(dataset),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        # With a byte-order mark, Excel opens the UTF-8 file with its Chinese titles intact.
        response = HttpResponse(dataset.export("csv").encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(form, fmt)}"'
    response["Cache-Control"] = "no-store"
    return response


def report_totals(lines: list[ReportLine]) -> list[dict[str, Any]]:
    """Per currency: line and order counts, units, gross, refunded, commission, net (displayed)."""
    totals: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    orders: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        total = totals[line.currency]
        total["lines"] += 1
        total["units"] += line.quantity
        for key in ("gross", "refunded", "commission", "net"):
            total[key] += getattr(line, key)
        orders[line.currency].add(line.order_number)
    return [
        {"currency": currency, "lines": t["lines"], "orders": len(orders[currency]), "units": t["units"],
         **{key: money(t[key], currency) for key in ("gross", "refunded", "commission", "net")}}
        for currency, t in sorted(totals.items())
    ]


def preview_rows(lines: list[ReportLine]) -> list[dict[str, Any]]:
    rows = []
    for line in lines[:PREVIEW_ROWS]:
        local = timezone.localtime(line.paid_at, timezone.get_default_timezone())
        rows.append({"when": f"{local:%Y-%m-%d %H:%M}", "order": line.order_number, "exhibitor": line.exhibitor_name,
                     "product": line.product_title, "kind": kind_label(line.kind), "quantity": line.quantity,
                     "gross": money(line.gross, line.currency), "refunded": money(line.refunded, line.currency),
                     "commission": money(line.commission, line.currency), "net": money(line.net, line.currency)})
    return rows


@require_GET
def sales_report(request: HttpRequest) -> HttpResponse:
    user = request.user
    submitted = any(key in request.GET for key in ("date_from", "date_to", "exhibitor", "format"))
    form = SalesReportForm(request.GET if submitted else None, user=user,
                           initial=SalesReportForm.default_range())
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Sales report"),
        "form": form,
        "formats": FORMATS,
        "has_scope": is_operator(user) or bool(exhibitor_ids_for(user)),
        "dashboard_url": reverse("admin:index"),
        "totals": None,
    }
    if not submitted:
        return TemplateResponse(request, "admin/dashboard/sales_report.html", context)
    if not form.is_valid():
        return TemplateResponse(request, "admin/dashboard/sales_report.html", context, status=400)
    data = form.cleaned_data
    exhibitor = data.get("exhibitor")
    lines = selectors.sales_report_lines(user=user, date_from=data["date_from"], date_to=data["date_to"],
                                         exhibitor_id=exhibitor.pk if exhibitor is not None else None)
    fmt = request.GET.get("format", "")
    if fmt in FORMATS:
        return export_response(form, lines, fmt)
    query = request.GET.copy()
    query.pop("format", None)
    context.update({
        "lines": lines,
        "totals": report_totals(lines),
        "preview": preview_rows(lines),
        "more_lines": max(len(lines) - PREVIEW_ROWS, 0),
        "download_links": [(label, f"?{query.urlencode()}&format={key}") for key, label in FORMATS.items()],
        "period": (data["date_from"], data["date_to"]),
    })
    return TemplateResponse(request, "admin/dashboard/sales_report.html", context)


def report_query(*, date_from: date, date_to: date, exhibitor_id: int | None = None, fmt: str = "") -> str:
    """The report's URL for a range (used by the dashboard's quick links)."""
    params = f"date_from={date_from:%Y-%m-%d}&date_to={date_to:%Y-%m-%d}"
    if exhibitor_id is not None:
        params += f"&exhibitor={exhibitor_id}"
    if fmt:
        params += f"&format={fmt}"
    return f"{reverse('dashboard:sales_report')}?{params}"
