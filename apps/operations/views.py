"""/ops/: the live order-queue console (Django templates, a small script, no build step).

The page renders once; its script then fetches `/ops/live/` (the same HTML fragment) every
OPS_REFRESH_SECONDS and swaps it in, so counts, ages, items and the chart update without a page
reload. Actions are plain POST forms with CSRF (operators only) that redirect back to the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.http import require_GET, require_POST

from apps.operations import selectors, services
from apps.operations.models import ActionOutcome
from apps.operations.selectors import Overview, QueueItem, ThroughputPoint
from marketplace.db.routing import replica_reads_view
from marketplace.tenancy import is_operator

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 160, 24
# Names double as the legend, translated in the template ({% translate s.name %}); the legend's
# swatches take the same colours from static/operations/console.css (.swatch-<name>).
SERIES = ((gettext_noop("placed"), "#2563eb"), (gettext_noop("paid"), "#16a34a"), (gettext_noop("fulfilled"), "#9333ea"))


@dataclass(frozen=True)
class ItemRow:
    item: QueueItem
    buttons: list[dict[str, Any]]


def _chart(points: list[ThroughputPoint]) -> dict[str, Any]:
    """Polylines of an inline SVG: one per series, minutes along x, orders per minute along y."""
    peak = max([1, *(max(p.placed, p.paid, p.fulfilled) for p in points)])
    step = (CHART_WIDTH - 2 * CHART_PAD) / max(len(points) - 1, 1)
    height = CHART_HEIGHT - 2 * CHART_PAD

    def y(value: int) -> float:
        return round(CHART_PAD + height - value * height / peak, 1)

    series = [
        {"name": name, "colour": colour, "total": sum(getattr(p, name) for p in points),
         "points": " ".join(f"{round(CHART_PAD + i * step, 1)},{y(getattr(p, name))}" for i, p in enumerate(points))}
        for name, colour in SERIES
    ]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "pad": CHART_PAD, "peak": peak, "series": series,
            "x_end": CHART_WIDTH - CHART_PAD, "y_base": CHART_HEIGHT - CHART_PAD,
            "first": points[0].minute if points else None, "last": points[-1].minute if points else None}


def _live_context(request: HttpRequest) -> dict[str, Any]:
    overview: Overview = selectors.ops_overview(user=request.user)
    actions = services.action_definitions()
    items: dict[str, list[ItemRow]] = {}
    for queue in overview.queues:
        if not queue.count:
            continue
        rows = selectors.queue_items(user=request.user, queue_name=queue.name, now=overview.generated_at)
        items[queue.name] = [
            ItemRow(item=row, buttons=[
                {"action": name, "label": actions[name].label, "confirm": actions[name].confirm, "key": uuid.uuid4()}
                for name in row.actions if name in actions
            ])
            for row in rows
        ]
    return {
        "overview": overview,
        "queues": [(queue, items.get(queue.name, [])) for queue in overview.queues],
        "chart": _chart(overview.throughput),
        "is_operator": is_operator(request.user),
    }


def _require_console_access(request: HttpRequest) -> None:
    if not selectors.can_view_console(request.user):
        raise PermissionDenied("The console is for operators and exhibitor staff.")


@require_GET
@staff_member_required
@replica_reads_view
def console(request: HttpRequest) -> HttpResponse:
    _require_console_access(request)
    context = {**_live_context(request), "refresh_seconds": settings.OPS_REFRESH_SECONDS,
               "live_url": reverse("operations:live")}
    return render(request, "operations/console.html", context)


@require_GET
@staff_member_required
@replica_reads_view
def console_live(request: HttpRequest) -> HttpResponse:
    _require_console_access(request)
    return render(request, "operations/_live.html", _live_context(request))


@require_POST
@staff_member_required
def console_action(request: HttpRequest) -> HttpResponse:
    if not is_operator(request.user):
        raise Http404()
    try:
        key = uuid.UUID(request.POST.get("key", ""))
    except ValueError as exc:
        raise Http404() from exc
    name, target = request.POST.get("action", ""), request.POST.get("target", "")
    if name not in services.action_definitions() or not target:
        raise Http404()
    record = services.operator_action_run(key=key, action=name, target_id=target, actor=request.user)
    level = {ActionOutcome.DONE: messages.SUCCESS, ActionOutcome.REFUSED: messages.ERROR}.get(
        ActionOutcome(record.outcome), messages.INFO)
    label = services.action_definitions()[name].label
    detail = record.detail or gettext("in progress")
    messages.add_message(request, level, f"{label}: {detail}")
    return HttpResponseRedirect(reverse("operations:console"))
