"""`python manage.py orderqueues [--watch] [--interval N]`: the console's numbers in a terminal.

Without --watch (or with --once) it prints the table once; with --watch it redraws every N
seconds until Ctrl-C, which exits cleanly.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.operations.selectors import Overview, ops_overview
from apps.operations.templatetags.ops import age

CLEAR = "\x1b[H\x1b[2J"


def render_overview(overview: Overview) -> str:
    width = max([len(q.label) for q in overview.queues] + [20])
    lines = [f"Order queues at {overview.generated_at.isoformat(timespec='seconds')}", ""]
    lines.append(f"{'QUEUE':<{width}}  {'COUNT':>7}  {'OLDEST':>9}  {'LIMIT':>9}  ")
    for q in overview.queues:
        limit = age(q.threshold_seconds) if q.threshold_seconds is not None else "–"
        mark = "BREACH" if q.breached else ""
        lines.append(f"{q.label:<{width}}  {q.count:>7}  {age(q.oldest_age_seconds):>9}  {limit:>9}  {mark}")
    last = overview.throughput[-15:]
    hour = overview.throughput
    placed, paid, fulfilled = (sum(getattr(p, k) for p in hour) for k in ("placed", "paid", "fulfilled"))
    lines += ["", f"Last hour: placed {placed} · paid {paid} · fulfilled {fulfilled}"]
    lines.append("Last 15 min placed/min: " + " ".join(str(p.placed) for p in last))
    if overview.celery is not None:
        c = overview.celery
        workers = "unknown" if c.workers_online is None else str(c.workers_online)
        depths = ", ".join(f"{name}={'?' if depth is None else depth}" for name, depth in c.queues.items())
        lines += ["", f"Celery: workers online {workers} · failed last hour {c.tasks_failed_last_hour}",
                  f"Broker queues: {depths}"]
        if c.broker_error:
            lines.append(f"Broker unreachable: {c.broker_error}")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Show the order queues, throughput and Celery state (once, or live with --watch)."

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--watch", action="store_true", help="Redraw every --interval seconds until Ctrl-C.")
        mode.add_argument("--once", action="store_true", help="Print once and exit (the default).")
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between redraws (default 5).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["watch"]:
            self.stdout.write(render_overview(ops_overview(user=None)), ending="")
            return
        try:
            while True:
                self.stdout.write(CLEAR + render_overview(ops_overview(user=None)), ending="")
                self.stdout.flush()
                time.sleep(max(options["interval"], 0.5))
        except KeyboardInterrupt:
            self.stdout.write("\n")
