"""S4: paid orders through the real Celery fulfilment path vs a no-op task, same broker, pool and concurrency.

Each round seeds N paid orders (one download line each: an entitlement, the order fulfilled, the
shopper's and exhibitor's notifications queued), stops the worker, enqueues one task per order,
starts the worker on the full queue and waits until every task has its result row. The no-op
round does the same with `bench.noop` (bench/tasks.py). tasks/s = (N - 1) / the time from the
round's first result row to its last (date_done): the worker's rate, whatever its start-up took.

Every round starts on an idle worker: the harness waits for the notification outbox of the
previous round to be sent (otherwise the no-op round after a real one would share the worker with
that round's notifications). The time until the round's notifications are all sent is logged and
noted as well. (Pausing the consumer with cancel_consumer instead of stopping the worker did not
hold on the Redis transport: tasks ran while they were enqueued, at the enqueue rate.)
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import psycopg

from bench import seed
from bench.common import Report, abba, djhelper
from bench.scenarios import QUICK, World
from bench.stack import MAIN_DB, log, pg_dsn

# Full size by default (BENCHMARKS.md: 20,000 fulfilments = 2 real rounds of 10,000): about 4-5
# minutes since the fulfilment batches and the workers' kept connections (it took 14 before).
N = int(os.environ.get("BENCH_S4_ORDERS", "400" if QUICK else "10000"))


def _task_registered(name: str) -> bool:
    import subprocess

    from bench.stack import ROOT, _bin, django_env

    out = subprocess.run([_bin("celery"), "-A", "config", "inspect", "registered", "--timeout", "3"], env=django_env(MAIN_DB),
                         cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    return name in out


def _wait_done(task: str, ids: list[str], timeout: float) -> float:
    t0 = time.monotonic()
    with psycopg.connect(pg_dsn(MAIN_DB), autocommit=True) as conn:
        while time.monotonic() - t0 < timeout:
            done = conn.execute("SELECT count(*) FROM django_celery_results_taskresult WHERE task_name = %s AND status = 'SUCCESS' "
                                "AND task_kwargs LIKE ANY(%s)", (task, [f"%{i}%" for i in ids[-1:]])).fetchone()[0]  # type: ignore[index]
            total = conn.execute("SELECT count(*) FROM django_celery_results_taskresult WHERE task_name = %s AND status = 'SUCCESS' "
                                 "AND date_done >= now() - interval '30 minutes'", (task,)).fetchone()[0]  # type: ignore[index]
            if done and total >= _wait_done.expected.get(task, 0):  # type: ignore[attr-defined]
                return time.monotonic() - t0
            time.sleep(0.25)
    raise TimeoutError(f"{task}: not done after {timeout}s")


_wait_done.expected = {}  # type: ignore[attr-defined]


UNSENT_SQL = ("SELECT count(*) FROM notifications_notification WHERE status = 'sending' "
              "OR (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now()))")


def _wait_outbox_empty(timeout: float = 600) -> float:
    """Seconds until no notification is left to send (due pending or being sent)."""
    t0 = time.monotonic()
    with psycopg.connect(pg_dsn(MAIN_DB), autocommit=True) as conn:
        while time.monotonic() - t0 < timeout:
            if not conn.execute(UNSENT_SQL).fetchone()[0]:  # type: ignore[index]
                return time.monotonic() - t0
            time.sleep(0.1)
    raise TimeoutError(f"notification outbox not empty after {timeout}s")


def s4(world: World) -> Report:
    report = Report("S4", f"fulfilment: {N:,} paid orders per round through fulfilment.fulfil_order vs a no-op task")
    if not _task_registered("fulfilment.fulfil_order"):
        report.notes.append("fulfilment.fulfil_order is not registered on the worker: S4 NOT MEASURED (no figures).")
        return report
    users = world.ensure_users(200)
    with world.conn() as conn:
        product = seed.download(conn, world.exhibitor_id, f"s4-download-{int(time.time())}", None)

    def run(task: str, k: int) -> float:
        prefix = f"F{k}{'r' if task.startswith('fulfil') else 'n'}{int(time.time()) % 100}"
        with world.conn() as conn:
            seed.orders_bulk(conn, user_ids=(users[0], users[-1]), product_id=product, exhibitor_id=world.exhibitor_id,
                             count=N, status="paid", prefix=prefix)
            ids = [r[0] for r in conn.execute("SELECT id::text FROM orders_order WHERE number LIKE %s ORDER BY number",
                                              (prefix + "%",)).fetchall()]
            before = conn.execute("SELECT count(*) FROM django_celery_results_taskresult WHERE task_name = %s AND status = 'SUCCESS'",
                                  (task,)).fetchone()[0]  # type: ignore[index]
        _wait_done.expected[task] = before + len(ids)  # type: ignore[attr-defined]
        _wait_outbox_empty()  # the previous round's notifications are sent: the worker is idle
        with world.conn() as conn:
            round_start = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        # The worker is stopped while the round is enqueued and started on a full queue: a paused
        # consumer (cancel_consumer) still took messages on the Redis transport, so rounds ran at
        # the enqueue rate.
        assert world.worker is not None
        assert world.stack is not None
        world.stack.stop_server(world.worker)
        djhelper(MAIN_DB, "enqueue", {"task": task, "order_ids": ids})
        world.worker = world.stack.start_worker(MAIN_DB)
        meter = world.meter(worker=True)
        meter.start()
        started = time.monotonic()
        seconds = _wait_done(task, ids, timeout=600)
        split = meter.stop()
        report.cpu.append({"case": f"S4 {task} #{k}", **split})
        cpu_per_task.setdefault(task, []).append(split["celery"] / len(ids))
        if task == "fulfilment.fulfil_order":
            _wait_outbox_empty()
            outbox_seconds = time.monotonic() - started
            log(f"S4 {task} #{k}: outbox sent {outbox_seconds:.1f}s after the worker started")
            report.notes.append(f"round #{k}: {len(ids)} orders fulfilled in {seconds:.1f}s; their notifications all sent "
                                f"after {outbox_seconds:.1f}s")
        if task == "fulfilment.fulfil_order":
            with world.conn() as conn:
                fulfilled, ents, units, events_ = conn.execute(
                    """SELECT count(*) FILTER (WHERE o.status = 'fulfilled'),
                              (SELECT count(*) FROM fulfilment_entitlement e WHERE e.order_id = ANY(%s::uuid[])),
                              (SELECT count(DISTINCT (e.order_line_id, e.unit_index)) FROM fulfilment_entitlement e
                               WHERE e.order_id = ANY(%s::uuid[])),
                              (SELECT count(*) FROM orders_orderevent ev WHERE ev.order_id = ANY(%s::uuid[])
                               AND ev.to_status = 'fulfilled')
                       FROM orders_order o WHERE o.id = ANY(%s::uuid[])""", (ids, ids, ids, ids)).fetchone()  # type: ignore[misc]
                # Orders delivered per second: first to last order turned fulfilled (batches deliver
                # many orders per task; each order still has its own task, counted above).
                span_orders = conn.execute("SELECT extract(epoch FROM max(status_changed_at) - min(status_changed_at)) "
                                           "FROM orders_order WHERE id = ANY(%s::uuid[])", (ids,)).fetchone()[0]  # type: ignore[index]
            report.check(f"S4 real #{k}: every order fulfilled once: one entitlement, one 'fulfilled' event",
                         fulfilled == len(ids) == ents == units == events_, orders=len(ids), fulfilled=fulfilled,
                         entitlements=ents, distinct_units=units, fulfilled_events=events_)
            report.extra.setdefault("orders_delivered_per_second", []).append(
                round((len(ids) - 1) / float(span_orders), 1) if span_orders else None)
        # The rate while the worker processed this round: (n - 1) completions over the span from the
        # first to the last result row. It does not depend on when the clock started (a no-op
        # round can finish while the worker is still starting) and counts everything the worker did meanwhile.
        with world.conn() as conn:
            count, span = conn.execute(
                "SELECT count(*), extract(epoch FROM max(date_done) - min(date_done)) FROM django_celery_results_taskresult "
                "WHERE task_name = %s AND status = 'SUCCESS' AND date_done >= %s", (task, round_start)).fetchone()  # type: ignore[misc]
        rate = (count - 1) / float(span) if count > 1 and span else len(ids) / seconds
        log(f"S4 {task} #{k}: {len(ids)} tasks, {seconds:.1f}s after the worker started; first to last result {float(span or 0):.2f}s "
            f"= {rate:.1f}/s")
        return rate

    cpu_per_task: dict[str, list[float]] = {}
    a, b, ratios = abba(lambda k: run("fulfilment.fulfil_order", k), lambda k: run("bench.noop", k), cycles=1)
    report.case("tasks/s", a_label="fulfilment.fulfil_order (tasks/s: one per paid order; a batch delivers others' orders)",
                b_label="no-op task (tasks/s)", unit="ratio", a=a, b=b, ratios=ratios, target=">= 0.5",
                met=statistics.median(ratios) >= 0.5, target_value=0.5)
    # The same rounds seen as the worker's CPU per task (per paid order on the real side): less
    # sensitive than tasks/s to what else the shared machine runs meanwhile (no target of its own).
    real, noop = cpu_per_task.get("fulfilment.fulfil_order", []), cpu_per_task.get("bench.noop", [])
    report.case("worker CPU per task: no-op / fulfilment", a_label="fulfilment CPU seconds per paid order",
                b_label="no-op CPU seconds per task", unit="ratio", a=real, b=noop,
                ratios=[n / r for r, n in zip(real, noop, strict=False)], target="n/a (CPU view of the rounds above)",
                met=None, target_value=0.5)
    report.notes.append(f"{N:,} orders per round, 4 rounds (A B B A): {2 * N:,} real fulfilments "
                        f"(BENCHMARKS.md asks for 20,000{'' if 2 * N >= 20_000 else '; BENCH_S4_ORDERS=10000 for full size'}).")
    return report


__all__: list[Any] = ["s4"]
