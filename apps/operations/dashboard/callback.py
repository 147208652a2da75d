"""UNFOLD["DASHBOARD_CALLBACK"]: the admin home page's context, from `selectors.booth_day`.

Everything shown is formatted here (money in major units with the currency, local times,
translated labels); the template only lays it out. Charts are Chart.js data for unfold's bundled
chart components (no CDN).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from apps.catalog.models import ProductKind
from apps.operations.dashboard import selectors
from apps.operations.dashboard.formatting import major, money, money_list
from apps.operations.dashboard.forms import FORMATS, SalesReportForm
from apps.operations.dashboard.labels import kind_label
from apps.operations.dashboard.navigation import booth_url
from apps.operations.dashboard.selectors import BoothDay, PeriodFigures, ProductRow, SeriesPoint
from apps.operations.dashboard.views import report_query
from marketplace.tenancy import exhibitor_ids_for

CHART_COLOURS = ("var(--color-primary-600)", "var(--color-primary-300)", "#f59e0b", "#10b981", "#6366f1")


def _localized(title: str, title_zh: str) -> str:
    return title_zh if title_zh and translation.get_language() == "zh-hans" else title


def _counts(figures: PeriodFigures) -> str:
    orders = ngettext("%(count)s order", "%(count)s orders", figures.orders) % {"count": figures.orders}
    units = ngettext("%(count)s unit", "%(count)s units", figures.units) % {"count": figures.units}
    return f"{orders} · {units}"


def _period_card(title: str, figures: PeriodFigures, currency: str, icon: str) -> dict[str, Any]:
    refunds = money_list(figures.refunds)
    return {
        "title": title,
        "icon": icon,
        "amounts": money_list(figures.revenue, empty_currency=currency),
        "counts": _counts(figures),
        "refunds": refunds,
        "net": money_list(figures.net) if refunds else [],
    }


def _chart(points: list[SeriesPoint], labels: list[str], currencies: list[str]) -> str:
    datasets = [
        {"label": currency, "data": [float(major(p.revenue.get(currency, 0), currency)) for p in points],
         "backgroundColor": CHART_COLOURS[i % len(CHART_COLOURS)], "borderColor": CHART_COLOURS[i % len(CHART_COLOURS)],
         "displayYAxis": True, "suffixYAxis": currency}
        for i, currency in enumerate(currencies)
    ]
    return json.dumps({"labels": labels, "datasets": datasets})


def _sell_through(row: ProductRow) -> str:
    if row.kind == ProductKind.COLLECTIBLE:
        text = _("%(sold)s sold · %(left)s left of %(size)s") % {
            "sold": row.editions_sold, "left": row.editions_left, "size": row.edition_size or 0}
        if row.editions_held:
            text += " · " + _("%(held)s on hold") % {"held": row.editions_held}
        return text
    if row.kind == ProductKind.SERVICE:
        if not row.slots_capacity:
            return _("No slots yet")
        return _("%(taken)s of %(capacity)s places booked") % {"taken": row.slots_taken, "capacity": row.slots_capacity}
    if row.stock_left is None:
        return _("%(sold)s sold · unlimited") % {"sold": row.units_sold}
    return _("%(sold)s sold · %(left)s left") % {"sold": row.units_sold, "left": row.stock_left}


def _products(day: BoothDay, names: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "title": _localized(row.title, row.title_zh),
            "url": reverse("admin:catalog_product_change", args=[row.id]),
            "kind": kind_label(row.kind),
            "exhibitor": names.get(row.exhibitor_id, ""),
            "published": row.is_published,
            "units_sold": row.units_sold,
            "revenue": money(row.revenue, row.currency),
            "sell_through": _sell_through(row),
            "percent": row.sold_percent,
        }
        for row in day.products
    ]


def _slots(day: BoothDay, names: dict[int, str]) -> list[dict[str, Any]]:
    tz = timezone.get_default_timezone()
    rows = []
    for slot in day.slots:
        starts, ends = timezone.localtime(slot.starts_at, tz), timezone.localtime(slot.ends_at, tz)
        if starts.date() == day.today:
            when = _("Today %(start)s–%(end)s") % {"start": f"{starts:%H:%M}", "end": f"{ends:%H:%M}"}
        elif starts.date() == day.today + timedelta(days=1):
            when = _("Tomorrow %(start)s–%(end)s") % {"start": f"{starts:%H:%M}", "end": f"{ends:%H:%M}"}
        else:
            when = f"{date_format(starts, 'MONTH_DAY_FORMAT')} {starts:%H:%M}–{ends:%H:%M}"
        rows.append({"when": when, "product": _localized(slot.product_title, slot.product_title_zh),
                     "exhibitor": names.get(slot.exhibitor_id, ""), "booked": slot.taken, "capacity": slot.capacity,
                     "full": slot.is_full, "running": slot.starts_at <= day.generated_at < slot.ends_at,
                     "url": reverse("admin:catalog_serviceslot_change", args=[slot.id])})
    return rows


def _payouts(day: BoothDay) -> list[dict[str, Any]]:
    return [
        {"currency": p.currency, "pending": money(p.pending, p.currency), "pending_count": p.pending_count,
         "awaiting_account": p.awaiting_account, "paid_out": money(p.paid_out, p.currency),
         "taken_back": money(p.taken_back, p.currency), "net_paid_out": money(p.net_paid_out, p.currency),
         "failed": p.failed}
        for p in day.payouts
    ]


def _exhibitor_table(day: BoothDay) -> list[dict[str, Any]]:
    return [
        {"name": _localized(row.name, row.name_zh), "booth": f"{row.hall}-{row.booth}",
         "url": reverse("admin:exhibitors_exhibitor_change", args=[row.id]),
         "revenue_today": money_list(row.revenue_today) or ["—"], "revenue_total": money_list(row.revenue_total) or ["—"],
         "orders_today": row.orders_today, "orders_total": row.orders_total,
         "refunds_total": money_list(row.refunds_total) or ["—"],
         "payouts_pending": money_list(row.payouts_pending) or ["—"]}
        for row in day.exhibitors
    ]


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """The `dashboard` variable of admin/dashboard.html for the request's user."""
    from django.conf import settings

    user = request.user
    day = selectors.booth_day(user=user)
    currency = str(settings.MARKETPLACE["DEFAULT_CURRENCY"])
    currencies = day.currencies or [currency]
    names = {row.id: _localized(row.name, row.name_zh) for row in day.exhibitors}
    member_of = exhibitor_ids_for(user)
    if day.operator:
        heading = _("All exhibitors")
    else:
        heading = " · ".join(f"{_localized(r.name, r.name_zh)} ({r.hall}-{r.booth})" for r in day.exhibitors)
    # Short day labels under the bars ("Nov 25"); the translator gives the Chinese form ("n月j日").
    day_labels = [date_format(timezone.localtime(p.start, timezone.get_default_timezone()),
                              pgettext("day under a chart bar, Django date format", "M j")) for p in day.days]
    hour_labels = [f"{timezone.localtime(p.start, timezone.get_default_timezone()):%H}:00" for p in day.hours]
    week_from = day.today - timedelta(days=day.today.weekday())
    form = SalesReportForm(user=user, initial=SalesReportForm.default_range(day.today))
    return {
        "day": day,
        "heading": heading,
        "date": date_format(timezone.localtime(day.generated_at, timezone.get_default_timezone()), "DATE_FORMAT"),
        "time": f"{timezone.localtime(day.generated_at, timezone.get_default_timezone()):%H:%M}",
        "has_scope": day.operator or bool(member_of),
        "show_exhibitor": day.operator or len(member_of) > 1,
        "cards": [
            _period_card(_("Revenue today"), day.sales_today, currency, "today"),
            _period_card(_("This week"), day.sales_week, currency, "date_range"),
            _period_card(_("All time"), day.sales_total, currency, "savings"),
        ],
        "passes": day.passes,
        "chart_days": _chart(day.days, day_labels, currencies),
        "chart_hours": _chart(day.hours, hour_labels, currencies),
        "has_sales_today": day.sales_today.orders > 0,
        "has_sales_days": any(p.orders for p in day.days),
        "products": _products(day, names),
        "products_more": max(day.products_count - len(day.products), 0),
        "products_url": reverse("admin:catalog_product_changelist"),
        "slots": _slots(day, names),
        "payouts": _payouts(day),
        "exhibitors": _exhibitor_table(day) if day.operator or len(member_of) > 1 else [],
        "report_form": form,
        "report_url": reverse("dashboard:sales_report"),
        "report_formats": FORMATS,
        "report_today": report_query(date_from=day.today, date_to=day.today),
        "report_week": report_query(date_from=week_from, date_to=day.today),
        "booth_url": booth_url() if member_of else "",
        "ops_url": reverse("operations:console"),
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Unfold calls this for /admin/ with the index's context; we add the booth's day."""
    context["dashboard"] = dashboard_context(request)
    context["title"] = _("Dashboard")
    return context
