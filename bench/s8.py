"""S8: the ballot draw (apps/catalog/services/ballots.py) of 100,000 registrations for 1,000 editions
against one `SELECT` of those registrations run by pgbench (BENCHMARKS.md S8).

A (the project): `ballot_draw(ballot_id=...)`, the service the beat task (`ballots_draw_due`) and
the admin action call, run in a Django process of its own against the bench database
(`python -m bench.s8 draw -`, started with bench.stack.django_env like bench/djhelper.py); only
the call is timed (wall seconds), after Django is set up and connected. It draws everything the
real draw does: the drawn order, every entry's new state, the audit rows, the "ballot.drawn"
event and the notification outbox rows it makes (one per registrant), and commits.
B (the ceiling): pgbench, one client, running the SELECT of the registrations the draw itself
issued (captured from the draw with an execute wrapper, the ballot id swapped), seconds per run.
Each round gets a fresh ballot seeded in SQL (bench/seed.py `ballot`): A B B A, ratio A / B.

Correct when, after every draw: the ballot is drawn with winners_count = min(editions,
registrations), exactly that many entries won (distinct shoppers, each with an offer and a
window), the public draw record's winners equal `drawn_order` recomputed from its revealed seed and
registration ids (and an independent HMAC implementation here agrees; the seed hashes to the
published commitment), every entry's stored position is its place in that order, and everyone
registered has exactly one result notification.

The Celery worker is stopped while S8 runs and the draws' outbox rows are deleted at the end:
sending 100,000 result emails per round is not what S8 measures, and would load the machine during
the next rounds (and S4's). The `notifications.send_batch` messages left on the queue then find no
pending rows.

`--quick`: 20,000 registrations for 200 editions, one A B B A cycle (the JSON says so).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

from bench import pgb, seed
from bench.common import Report, abba
from bench.scenarios import CYCLES, QUICK, World
from bench.stack import MAIN_DB, RESULTS_DIR, ROOT, django_env, log

REGISTRATIONS = 20_000 if QUICK else 100_000
EDITIONS = 200 if QUICK else 1_000
PGBENCH_RUNS = 10 if QUICK else 20  # SELECTs per ceiling round (one client): average latency
TARGET = 10.0


def _helper(command: str, payload: dict[str, Any]) -> Any:
    """Run `command` of this module in a Django process on the bench database (see main())."""
    proc = subprocess.run([sys.executable, "-m", "bench.s8", command, "-"], input=json.dumps(payload), env=django_env(MAIN_DB),
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or "@@BENCH@@" not in proc.stdout:
        raise RuntimeError(f"bench.s8 {command} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.split("@@BENCH@@", 1)[1])


def recompute(seed_value: str, registrations: list[str]) -> list[str]:
    """The published algorithm (ALGORITHM in the service), written independently of it."""
    keyed = sorted((hmac.new(seed_value.encode(), rid.encode(), hashlib.sha256).hexdigest(), rid) for rid in registrations)
    return [rid for _key, rid in keyed]


def s8(world: World) -> Report:
    report = Report("S8", f"ballot draw: {REGISTRATIONS:,} registrations for {EDITIONS:,} editions vs one SELECT of them (pgbench)")
    report.extra["settings_s8"] = {"quick": QUICK, "registrations": REGISTRATIONS, "editions": EDITIONS,
                                   "pgbench_runs_per_round": PGBENCH_RUNS, "pgbench_clients": 1}
    with world.conn() as conn:
        users = seed.users(conn, REGISTRATIONS, "!bench-s8-no-login")  # unusable password: these never sign in
    span = (users[0], users[-1])
    read_sql: dict[str, str] = {}
    stamp = int(time.time())

    def fresh_ballot(k: int, side: str) -> tuple[int, int]:
        with world.conn() as conn:
            product_id, ballot_id = seed.ballot(conn, world.exhibitor_id, f"s8-{stamp}-{side}{k}", editions=EDITIONS,
                                                user_ids=span, registrations=REGISTRATIONS)
            conn.execute("VACUUM (ANALYZE) catalog_ballotentry")  # both sides read settled, analysed rows
        return product_id, ballot_id

    def run_draw(k: int) -> float:
        product_id, ballot_id = fresh_ballot(k, "a")
        result = _helper("draw", {"ballot_id": ballot_id, "cprofile": os.environ.get("BENCH_S8_CPROFILE", "")})
        read_sql.setdefault("sql", result["read_sql"])
        report.cpu.append({"case": f"S8 draw #{k}", "draw_process": result["cpu_seconds"],
                           "postgres_backend": result["backend_cpu_seconds"]})
        report.extra.setdefault("draws", []).append({k_: v for k_, v in result.items() if k_ != "read_sql"})
        log(f"S8 draw #{k}: {result['seconds']:.3f}s ({result['statements']} statements; CPU {result['cpu_seconds']:.2f}s "
            f"Python, {result['backend_cpu_seconds']:.2f}s Postgres)")
        _check(report, k, product_id, ballot_id, result)
        return float(result["seconds"])

    def run_select(k: int) -> float:
        _product_id, ballot_id = fresh_ballot(k, "b")
        sql = re.sub(r'"catalog_ballotentry"\."ballot_id" = \d+', f'"catalog_ballotentry"."ballot_id" = {ballot_id}',
                     read_sql["sql"])
        meter = world.meter()
        meter.start()
        read_sql["script"] = sql + ";\n"
        res = pgb.run(MAIN_DB, read_sql["script"], clients=1, transactions=PGBENCH_RUNS)
        report.cpu.append({"case": f"S8 select #{k}", **meter.stop()})
        report.extra.setdefault("selects", []).append(res.summary())
        report.check(f"S8 select #{k}: pgbench ran every SELECT", res.failed == 0 and res.transactions == PGBENCH_RUNS,
                     **res.summary())
        assert res.latency_ms is not None
        return res.latency_ms / 1000

    assert world.stack is not None
    if world.worker is not None:
        world.stack.stop_server(world.worker)
        world.worker = None
    try:
        a, b, ratios = abba(run_draw, run_select, cycles=CYCLES)
    finally:
        with world.conn() as conn:
            conn.execute("DELETE FROM notifications_notification WHERE kind IN ('ballot_won', 'ballot_lost') "
                         "AND dedupe_key LIKE 'ballot:%%'")
        world.worker = world.stack.start_worker(MAIN_DB)
    report.extra["read_sql"] = read_sql.get("sql")
    if read_sql.get("script"):
        (RESULTS_DIR / "S8_pgbench.sql").write_text(read_sql["script"])
    report.case("draw / SELECT of the registrations", a_label="ballot_draw, wall seconds", b_label="one SELECT of the "
                "registrations the draw reads, pgbench, seconds", unit="ratio", a=a, b=b, ratios=ratios,
                target=f"<= {TARGET:g}", met=statistics.median(ratios) <= TARGET, target_value=TARGET, higher_is_better=False)
    report.notes.append(f"{REGISTRATIONS:,} registrations, {EDITIONS:,} editions per ballot{' (--quick)' if QUICK else ''}; "
                        f"draws (s): {', '.join(f'{v:.2f}' for v in a)}; SELECT (ms): {', '.join(f'{v * 1000:.1f}' for v in b)}")
    return report


def _check(report: Report, k: int, product_id: int, ballot_id: int, result: dict[str, Any]) -> None:
    v = _helper("verify", {"product_id": product_id, "ballot_id": ballot_id})
    expected_winners = min(EDITIONS, REGISTRATIONS)
    independent = recompute(v["seed"], v["registrations"])[:expected_winners]
    ok = (result["drew"] and v["status"] == "drawn" and v["winners_count"] == expected_winners
          and len(v["winners"]) == expected_winners and len(set(v["winners"])) == expected_winners
          and v["won"] == v["won_users"] == v["won_with_window"] == expected_winners
          and v["registrations_count"] == REGISTRATIONS and v["commitment_ok"] and v["winners_match_drawn_order"]
          and v["positions_match"] and v["winners"] == independent
          and v["won_notices"] == expected_winners and v["lost_notices"] == REGISTRATIONS - expected_winners)
    report.check(f"S8 draw #{k}: {expected_winners} winners offered, distinct, reproducible from the public record",
                 ok, **{key: val for key, val in v.items() if key not in ("registrations", "winners", "seed")},
                 independent_recompute_matches=v["winners"] == independent, distinct_winners=len(set(v["winners"])))


# --- The Django side (python -m bench.s8 CMD -) ------------------------------------------------------


def _draw(args: dict[str, Any]) -> dict[str, Any]:
    import psutil
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from apps.catalog.models import Ballot, BallotEntry
    from apps.catalog.services.ballots import ballot_draw

    ContentType.objects.get_for_model(Ballot)  # warm the content-type cache, as in a long-running worker
    ContentType.objects.get_for_model(BallotEntry)
    connection.ensure_connection()
    backend = psutil.Process(connection.connection.info.backend_pid)
    statements: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, None if many else params))
        return execute(sql, params, many, context)

    profiler = None
    if args.get("cprofile"):
        import cProfile

        profiler = cProfile.Profile()
    be0, cpu0, t0 = sum(backend.cpu_times()[:2]), time.process_time(), time.perf_counter()
    with connection.execute_wrapper(record):
        if profiler:
            profiler.enable()
        drew = ballot_draw(ballot_id=args["ballot_id"])
        if profiler:
            profiler.disable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    backend_cpu = sum(backend.cpu_times()[:2]) - be0
    if profiler:
        profiler.dump_stats(args["cprofile"])
    read = next(((sql, params) for sql, params in statements
                 if sql.lstrip().upper().startswith("SELECT") and 'FROM "catalog_ballotentry"' in sql), None)
    assert read is not None, "the draw read no registrations"
    read_sql = read[0] % tuple(int(p) if isinstance(p, int) else f"'{p}'" for p in (read[1] or ()))
    return {"drew": drew, "seconds": round(seconds, 4), "cpu_seconds": round(cpu, 3), "backend_cpu_seconds": round(backend_cpu, 3),
            "statements": len(statements), "read_sql": read_sql}


def _verify(args: dict[str, Any]) -> dict[str, Any]:
    from django.db.models import Count

    from apps.catalog.ballot_selectors import ballot_draw_record
    from apps.catalog.models import Ballot, BallotEntry, BallotEntryStatus
    from apps.catalog.services.ballots import drawn_order
    from apps.notifications.models import Notification

    record = ballot_draw_record(product_id=args["product_id"])
    ballot = Ballot.objects.get(pk=args["ballot_id"])
    order = drawn_order(seed=record.seed, registration_ids=record.registrations)
    positions = dict(BallotEntry.objects.filter(ballot=ballot).values_list("public_id", "draw_position"))
    won = BallotEntry.objects.filter(ballot=ballot, status=BallotEntryStatus.WON)
    notices = dict(Notification.objects.filter(dedupe_key__startswith=f"ballot:{ballot.pk}:entry:").values_list("kind")
                   .annotate(n=Count("id")).values_list("kind", "n"))
    return {
        "status": ballot.status, "winners_count": ballot.winners_count, "registrations_count": ballot.registrations_count,
        "commitment_ok": hashlib.sha256(record.seed.encode()).hexdigest() == record.seed_sha256 == ballot.seed_sha256,
        "winners_match_drawn_order": record.winners == order[: ballot.winners_count or 0],
        "positions_match": positions == {rid: n for n, rid in enumerate(order, start=1)},
        "won": won.count(), "won_users": won.values("user_id").distinct().count(),
        "won_with_window": won.filter(offered_at__isnull=False, purchase_by__isnull=False).count(),
        "won_notices": notices.get("ballot_won", 0), "lost_notices": notices.get("ballot_lost", 0),
        "seed": record.seed, "registrations": record.registrations, "winners": record.winners,
    }


def main() -> None:
    import django

    django.setup()
    command = sys.argv[1]
    raw = sys.argv[2] if len(sys.argv) > 2 else "{}"
    payload = json.loads(sys.stdin.read() if raw == "-" else raw)
    result = {"draw": _draw, "verify": _verify}[command](payload)
    sys.stdout.write("\n@@BENCH@@" + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
