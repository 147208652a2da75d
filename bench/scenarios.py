"""The scenarios of BENCHMARKS.md. Each returns its Report; bench/__main__.py runs them in order."""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench import pgb, seed
from bench.common import Report, abba, djhelper, settings_snapshot
from bench.load import LoadResult, json_request, percentile, run_load
from bench.stack import (
    MAIN_DB,
    RESULTS_DIR,
    WEB_PORT,
    CpuMeter,
    Server,
    Stack,
    log,
    pg_dsn,
)

QUICK = os.environ.get("BENCH_QUICK") == "1"
CYCLES = 1 if QUICK else 2  # A B B A cycles per comparison: 2 ratios each
RUN_SECONDS = 3.0 if QUICK else 6.0
PASSWORD = "bench-password-2026!"
# /health/ answers about 30/s here (each call pings the Celery workers); 1,000 calls at concurrency 32
# give a stable p99 at the same offered load without spending minutes per round.
HEALTH_REQUESTS = 1000


def _xff(i: int) -> dict[str, str]:
    """A distinct client address per simulated shopper (DRF's throttles key anonymous callers on it)."""
    return {"X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}


@dataclass
class World:
    """Shared state of one harness run on the main database."""

    stack: Stack
    web: Server | None = None
    worker: Server | None = None
    exhibitor_id: int = 0
    password_hash: str = ""
    tokens: dict[int, str] = field(default_factory=dict)  # bulk users: id -> X-Session-Token
    s1_rate_c32: float | None = None

    def dsn(self) -> str:
        return pg_dsn(MAIN_DB)

    def conn(self) -> psycopg.Connection[Any]:
        return seed.connect(self.dsn())

    def meter(self, *, worker: bool = False) -> CpuMeter:
        groups: dict[str, Any] = {"gunicorn": lambda: self.web.pids() if self.web else [],
                                  "postgres": self.stack.postgres_pids, "redis": self.stack.redis_pids}
        if worker:
            groups["celery"] = lambda: self.worker.pids() if self.worker else []
        return CpuMeter(groups)

    def ensure_users(self, count: int) -> list[int]:
        if len(self.tokens) < count:
            if not self.password_hash:
                self.password_hash = djhelper(MAIN_DB, "password", {"password": PASSWORD})
            with self.conn() as conn:
                ids = seed.users(conn, count - len(self.tokens), self.password_hash)
            minted = djhelper(MAIN_DB, "mint", {"user_ids": ids})
            self.tokens.update({int(k): v for k, v in minted.items()})
        return sorted(self.tokens)[:count]


def _order_post(product_id: int, token: str, i: int, quantity: int = 1, slot: int | None = None) -> Any:
    line: dict[str, Any] = {"product": product_id, "quantity": quantity}
    if slot is not None:
        line["slot"] = slot
    return json_request("POST", "/api/v1/orders/", {"lines": [line]}, {"X-Session-Token": token, **_xff(i)})


def _created_ids(result: LoadResult) -> list[str]:
    return [r.json()["id"] for r in result.responses if r.status == 201]


def _capture(world: World, *, body: dict[str, Any], token: str, randint: int | None = None) -> dict[str, Any]:
    return djhelper(MAIN_DB, "capture", {"method": "POST", "path": "/api/v1/orders/", "body": body,
                                         "headers": {"X-Session-Token": token}, "randint": randint,
                                         "warm_path": "/api/v1/orders/?page_size=1"})


def _count_kinds(queries: list[str]) -> dict[str, int]:
    """Statements of one request, and how many are transaction control (BEGIN, COMMIT, savepoints),
    which Django's query log records but which read or write nothing."""
    control = sum(1 for q in queries if q.strip().upper().startswith(
        ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")))
    return {"total": len(queries), "transaction_control": control, "queries": len(queries) - control}


# --- S1 ------------------------------------------------------------------------------------------


def s1(world: World) -> Report:
    report = Report("S1", "drop purchase: POST /api/v1/orders/ vs pgbench running the same transaction")
    conn = world.conn()
    editions = 60_000 if QUICK else 250_000
    http_product = seed.collectible(conn, world.exhibitor_id, f"s1-drop-{int(time.time())}", editions)
    pg_product = seed.collectible(conn, world.exhibitor_id, f"s1-pg-{int(time.time())}", editions)
    ten = [seed.collectible(conn, world.exhibitor_id, f"s1-ten-{int(time.time())}-{i}", 20) for i in range(10)]
    # Fresh statistics for the half million editions just inserted: without them the claim's plan
    # depends on when autovacuum happens to analyze, and one side of an A/B pair can run a
    # sequential scan the other does not (seen: pgbench at 30 tps, ratios above 1).
    conn.execute("ANALYZE catalog_edition, catalog_product")

    # Buyers: a few sign up through allauth's real flow (which waits for the email to be verified,
    # so they do not buy); the buyers (and pgbench's) are bulk users.
    signups = run_load(lambda i: json_request("POST", "/_allauth/app/v1/auth/signup",
                                              {"email": f"s1-{int(time.time())}-{i}@bench.test", "password": PASSWORD}, _xff(i)),
                       port=WEB_PORT, total=8, concurrency=4, max_seconds=60, keep_body=lambda s: True)
    pending = [r for r in signups.responses
               if r.status == 401 and {"id": "verify_email", "is_pending": True} in r.json()["data"]["flows"]]
    report.check("allauth signup answers 401 verify_email pending", len(pending) == 8,
                 statuses=dict(signups.statuses()))
    bulk = world.ensure_users(200)
    tokens = [world.tokens[u] for u in bulk[:32]]

    # The SQL one purchase issues: 1 line and 10 lines.
    one = _capture(world, body={"lines": [{"product": http_product, "quantity": 1}]}, token=world.tokens[bulk[0]],
                   randint=4242)
    tenq = _capture(world, body={"lines": [{"product": p, "quantity": 1} for p in ten]}, token=world.tokens[bulk[1]])
    report.check("captured purchases answered 201", one["status"] == 201 and tenq["status"] == 201,
                 statuses=[one["status"], tenq["status"]])
    counts = {"1_line": _count_kinds(one["queries"]), "10_lines": _count_kinds(tenq["queries"])}
    report.extra["queries_per_purchase"] = counts
    report.extra["purchase_sql_1_line"] = one["queries"]
    q1, q10 = counts["1_line"]["queries"], counts["10_lines"]["queries"]
    report.case(f"queries per purchase (1 line: {q1}; 10 lines: {q10}; + {counts['1_line']['transaction_control']} "
                f"BEGIN/COMMIT) / 8", a_label="project", b_label="target 8", unit="queries",
                a=[q1], b=[8], ratios=[q1 / 8], target="<= 8 queries", met=q1 <= 8 and q1 == q10,
                target_value=1.0, higher_is_better=False)
    report.check("same query count for 1 and 10 lines", q1 == q10, one_line=q1, ten_lines=q10)

    # pgbench script: the statements of the placement transaction, from the edition claim to the event.
    order_id = one["body"]["id"]
    with conn.cursor() as cur:
        number = cur.execute("SELECT number FROM orders_order WHERE id = %s", (order_id,)).fetchone()[0]  # type: ignore[index]
        links = cur.execute("""SELECT l.id, ole.edition_id FROM orders_orderline l
                               JOIN orders_orderlineedition ole ON ole.line_id = l.id WHERE l.order_id = %s""",
                            (order_id,)).fetchall()
    queries = one["queries"]
    first = next(i for i, q in enumerate(queries) if 'UPDATE "catalog_edition"' in q or "UPDATE catalog_edition" in q)
    last = max(i for i, q in enumerate(queries) if 'INSERT INTO "orders_orderevent"' in q)
    tx = [q for q in queries[first:last + 1] if not q.upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))]
    # pgbench claims from its own product of the same size, so both sides scan equally full inventories.
    script = pgb.template_transaction(tx, order_id=order_id, order_number=number, user_id=bulk[0], product_id=pg_product,
                                      single_edition=len(links) == 1)
    (RESULTS_DIR / "S1_pgbench.sql").write_text(script)
    report.extra["pgbench_script"] = "bench/results/S1_pgbench.sql"
    defines = {"ulo": bulk[0], "uhi": bulk[-1], "size": editions}

    levels = [4, 32] if QUICK else [4, 16, 32]
    pool = world.stack and (int(os.environ.get("BENCH_GUNICORN_WORKERS", "2")) * int(os.environ.get("BENCH_GUNICORN_THREADS", "4")))
    rates: dict[int, float] = {}
    for conc in levels:
        http_runs: list[LoadResult] = []

        def run_http(k: int, conc: int = conc, http_runs: list[LoadResult] = http_runs) -> float:
            meter = world.meter()
            meter.start()
            res = run_load(lambda i: _order_post(http_product, tokens[i % len(tokens)], i), port=WEB_PORT,
                           total=100_000, concurrency=conc, max_seconds=RUN_SECONDS, keep_body=lambda s: s == 201)
            report.cpu.append({"case": f"S1 http c={conc} #{k}", **meter.stop()})
            http_runs.append(res)
            _check_s1_http(report, world, res, http_product, conc)
            return sum(1 for r in res.responses if r.status == 201) / res.seconds

        def run_pg(k: int, conc: int = conc) -> float:
            meter = world.meter()
            meter.start()
            before = _held(world, pg_product)
            res = pgb.run(MAIN_DB, script, clients=min(conc, pool or conc), seconds=RUN_SECONDS, defines=defines)
            report.cpu.append({"case": f"S1 pgbench c={min(conc, pool or conc)} #{k}", **meter.stop()})
            after = _held(world, pg_product)
            report.check(f"pgbench c={conc}: editions held == transactions", after - before == res.transactions and res.failed == 0,
                         held=after - before, transactions=res.transactions, failed=res.failed)
            return res.tps

        a, b, ratios = abba(run_http, run_pg, cycles=CYCLES)
        entry = report.case(f"orders/s c={conc}", a_label="POST /api/v1/orders/ (orders/s)", b_label="pgbench same transaction (tps)",
                            unit="ratio", a=a, b=b, ratios=ratios, target=">= 0.30", met=statistics.median(ratios) >= 0.30,
                            target_value=0.30, http_p50_ms=[r.summary()["p50_ms"] for r in http_runs],
                            http_p99_ms=[r.summary()["p99_ms"] for r in http_runs])
        rates[conc] = statistics.median(a)
        del entry
    # The framework floor against the same ceiling: a bare Django view running the same statements
    # (S1b's), at the highest concurrency. No target: it says how much of the gap to pgbench any
    # Django view pays before DRF and the project's code.
    floor_product = seed.collectible(conn, world.exhibitor_id, f"s1-floor-{int(time.time())}", editions)
    conn.execute("ANALYZE catalog_edition")
    top = levels[-1]

    def run_floor(k: int) -> float:
        meter = world.meter()
        meter.start()
        res = run_load(lambda i: _bare_post(floor_product, tokens[i % len(tokens)], i), port=WEB_PORT, total=100_000,
                       concurrency=top, max_seconds=RUN_SECONDS, keep_body=lambda s: s == 201)
        report.cpu.append({"case": f"S1 bare view c={top} #{k}", **meter.stop()})
        _check_s1_http(report, world, res, floor_product, top)
        return sum(1 for r in res.responses if r.status == 201) / res.seconds

    def run_pg_top(k: int) -> float:
        return pgb.run(MAIN_DB, script, clients=min(top, pool or top), seconds=RUN_SECONDS, defines=defines).tps

    a, b, ratios = abba(run_floor, run_pg_top, cycles=CYCLES)
    report.case(f"floor: bare Django view / pgbench c={top}", a_label=f"bare Django view {BARE_PATH} (orders/s)",
                b_label="pgbench same transaction (tps)", unit="ratio", a=a, b=b, ratios=ratios, target="n/a (the floor)",
                met=None, target_value=0.30)
    world.s1_rate_c32 = rates.get(32)
    report.extra["orders_per_second_by_concurrency"] = rates
    report.extra["pgbench_clients_note"] = (f"pgbench uses min(concurrency, {pool}) clients: the web tier holds at most "
                                            f"{pool} database connections (workers x threads), so that is the same pool.")
    conn.close()
    return report


def _held(world: World, product_id: int) -> int:
    with world.conn() as conn:
        return int(conn.execute("SELECT count(*) FROM catalog_edition WHERE product_id = %s AND status <> 'available'",
                                (product_id,)).fetchone()[0])  # type: ignore[index]


def _check_s1_http(report: Report, world: World, res: LoadResult, product_id: int, conc: int) -> None:
    ids = _created_ids(res)
    others = {k: v for k, v in res.statuses().items() if k != 201}
    with world.conn() as conn:
        found = conn.execute("""SELECT count(DISTINCT o.id), count(ole.id), count(DISTINCT e.serial)
                                FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
                                JOIN orders_orderlineedition ole ON ole.line_id = l.id JOIN catalog_edition e ON e.id = ole.edition_id
                                WHERE o.id = ANY(%s::uuid[])""", (ids,)).fetchone()
        held = conn.execute("SELECT count(*) FROM catalog_edition WHERE product_id = %s AND status <> 'available'",
                            (product_id,)).fetchone()
        linked = conn.execute("""SELECT count(*) FROM orders_orderlineedition ole JOIN catalog_edition e ON e.id = ole.edition_id
                                 WHERE e.product_id = %s""", (product_id,)).fetchone()
    assert found
    assert held
    assert linked
    ok = found[0] == len(ids) == found[1] == found[2] and held[0] == linked[0] and not others and res.errors == 0
    report.check(f"S1 http c={conc}: every 201 has its order, one edition each, serials distinct, held == linked",
                 ok, created=len(ids), orders_found=found[0], serials=found[2], held_total=held[0], linked_total=linked[0],
                 other_statuses=others, transport_errors=res.errors)


# --- S1b -----------------------------------------------------------------------------------------

BARE_PATH = "/bench/bare/orders/"


def _bare_post(product_id: int, token: str, i: int) -> Any:
    return json_request("POST", BARE_PATH, {"lines": [{"product": product_id, "quantity": 1}]},
                        {"X-Session-Token": token, **_xff(i)})


def _statement_kinds(queries: list[str]) -> list[str]:
    """The statements with their literals blanked out, transaction control left out: what must match."""
    kinds = []
    for q in queries:
        text = " ".join(q.split())
        if text.upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            continue
        text = re.sub(r"'(?:[^']|'')*'", "?", text)  # strings, uuids, timestamps, JSON
        kinds.append(re.sub(r"\b\d+\b", "?", text))  # numbers: ids, serials, prices
    return kinds


def s1b(world: World) -> Report:
    """The framework floor: POST /api/v1/orders/ against a bare Django view running the same statements."""
    report = Report("S1b", "drop purchase vs a bare Django view (no DRF) running the same statements, same server")
    conn = world.conn()
    editions = 60_000 if QUICK else 250_000
    stamp = int(time.time())
    api_product = seed.collectible(conn, world.exhibitor_id, f"s1b-api-{stamp}", editions)
    bare_product = seed.collectible(conn, world.exhibitor_id, f"s1b-bare-{stamp}", editions)
    conn.execute("ANALYZE catalog_edition, catalog_product")
    bulk = world.ensure_users(200)
    tokens = [world.tokens[u] for u in bulk[:32]]

    api = _capture(world, body={"lines": [{"product": api_product, "quantity": 1}]}, token=world.tokens[bulk[2]])
    bare = djhelper(MAIN_DB, "capture", {"method": "POST", "path": BARE_PATH, "body": {"lines": [{"product": bare_product, "quantity": 1}]},
                                         "headers": {"X-Session-Token": world.tokens[bulk[3]]},
                                         "warm_path": "/api/v1/orders/?page_size=1"})  # the session in the cache, as under load
    kinds = {"api": _statement_kinds(api["queries"]), "bare": _statement_kinds(bare["queries"])}
    report.extra["statements"] = kinds
    report.extra["bare_sql"] = bare["queries"]
    report.check("both answered 201", api["status"] == 201 and bare["status"] == 201, statuses=[api["status"], bare["status"]])
    report.check("the bare view runs the same statements as the endpoint (literals aside)", kinds["api"] == kinds["bare"],
                 **{side: [k[:160] for k in found] for side, found in kinds.items()})

    levels = [4, 32] if QUICK else [4, 16, 32]
    spent: dict[str, list[float]] = {"api": [], "bare": []}  # per run: (gunicorn + Postgres CPU seconds) / orders
    for conc in levels:
        def run(k: int, side: str, conc: int = conc) -> float:
            product = api_product if side == "api" else bare_product
            post = _order_post if side == "api" else _bare_post
            meter = world.meter()
            meter.start()
            res = run_load(lambda i: post(product, tokens[i % len(tokens)], i), port=WEB_PORT, total=100_000,
                           concurrency=conc, max_seconds=RUN_SECONDS, keep_body=lambda s: s == 201)
            split = meter.stop()
            report.cpu.append({"case": f"S1b {side} c={conc} #{k}", **split})
            _check_s1_http(report, world, res, product, conc)
            created = sum(1 for r in res.responses if r.status == 201)
            if created:
                spent[side].append((split["gunicorn"] + split["postgres"]) / created)
            return created / res.seconds

        a, b, ratios = abba(lambda k: run(k, "api"), lambda k: run(k, "bare"), cycles=CYCLES)
        report.case(f"orders/s c={conc}", a_label="POST /api/v1/orders/ (orders/s)", b_label=f"bare Django view {BARE_PATH} (orders/s)",
                    unit="ratio", a=a, b=b, ratios=ratios, target=">= 0.7", met=statistics.median(ratios) >= 0.7, target_value=0.7)
    # The same runs seen as CPU: what one order costs the web tier and Postgres on each side. Less
    # sensitive than orders/s to what else the shared machine runs meanwhile (no target of its own).
    pairs = list(zip(spent["api"], spent["bare"], strict=False))  # run i of each side: the same A B B A slot
    report.case("CPU per order (gunicorn + Postgres): bare / API", a_label="API CPU seconds per order",
                b_label="bare view CPU seconds per order", unit="ratio", a=[a for a, _ in pairs], b=[b for _, b in pairs],
                ratios=[b / a for a, b in pairs], target="n/a (CPU view of the runs above)", met=None, target_value=0.7)
    conn.close()
    return report


# --- S2 ------------------------------------------------------------------------------------------


def s2(world: World) -> Report:
    report = Report("S2", "sell-out race: 3,000 buyers for 300 editions vs GET /health/ at the same offered load")
    buyers = world.ensure_users(3000)
    conc = 32
    sellout_times: list[float] = []
    soldout_p99: list[float] = []

    def run_race(k: int) -> float:
        with world.conn() as conn:
            product = seed.collectible(conn, world.exhibitor_id, f"s2-race-{int(time.time() * 1000)}-{k}", 300)
        meter = world.meter()
        meter.start()
        res = run_load(lambda i: _order_post(product, world.tokens[buyers[i]], i), port=WEB_PORT, total=3000,
                       concurrency=conc, max_seconds=120, keep_body=lambda s: True)
        report.cpu.append({"case": f"S2 race #{k}", **meter.stop()})
        wins = [r for r in res.responses if r.status == 201]
        codes = {}
        for r in res.responses:
            if r.status != 201:
                code = (r.json() or {}).get("errors", [{}])[0].get("code") if r.body else None
                codes[f"{r.status} {code}"] = codes.get(f"{r.status} {code}", 0) + 1
        sold_out = sorted(r.latency for r in res.responses if r.status == 409)
        sellout = max((r.done_at for r in wins), default=res.finished) - res.started
        sellout_times.append(sellout)
        p99 = percentile(sold_out, 99) or float("nan")
        soldout_p99.append(p99)
        _check_s2(report, world, product, res, k, codes)
        report.extra.setdefault("races", []).append({**res.summary(), "sold_out_p99_ms": round(p99 * 1000, 2),
                                                     "sellout_seconds": round(sellout, 3), "answers": codes})
        return p99

    def run_health(k: int) -> float:
        meter = world.meter()
        meter.start()
        res = run_load(lambda i: json_request("GET", "/health/", None, _xff(i)), port=WEB_PORT, total=HEALTH_REQUESTS,
                       concurrency=conc, max_seconds=120)
        report.cpu.append({"case": f"S2 health #{k}", **meter.stop()})
        report.extra.setdefault("health", []).append(res.summary())
        report.check(f"S2 health #{k}: all 200", res.statuses().get(200, 0) == len(res.responses), statuses=dict(res.statuses()))
        return percentile(res.latencies(), 99) or float("nan")

    a, b, ratios = abba(run_race, run_health, cycles=CYCLES)
    report.case("sold_out p99 / health p99", a_label="p99 of 409 sold_out (s)", b_label="p99 of GET /health/ (s)", unit="ratio",
                a=a, b=b, ratios=ratios, target="<= 3", met=statistics.median(ratios) <= 3, target_value=3.0,
                higher_is_better=False)
    s1_rate = world.s1_rate_c32 or _s1_rate_from_file()
    if s1_rate:
        bound = 2 * 300 / s1_rate
        rel = [t / bound for t in sellout_times]
        report.case("sell-out time / (2 x 300 / S1 rate)", a_label="sell-out seconds", b_label=f"2 x 300 / {s1_rate:.1f} orders/s",
                    unit="ratio", a=sellout_times, b=[bound] * len(sellout_times), ratios=rel, target="<= 1",
                    met=statistics.median(rel) <= 1, target_value=1.0, higher_is_better=False)
    else:
        report.notes.append("No S1 orders/s at concurrency 32 in this run or bench/results/S1.json: sell-out bound not computed.")
    return report


def _s1_rate_from_file() -> float | None:
    path = RESULTS_DIR / "S1.json"
    if path.exists():
        data = json.loads(path.read_text())
        rates = data.get("orders_per_second_by_concurrency", {})
        return rates.get("32") or rates.get(32)
    return None


def _check_s2(report: Report, world: World, product: int, res: LoadResult, k: int, codes: dict[str, int]) -> None:
    ids = _created_ids(res)
    with world.conn() as conn:
        serials = [r[0] for r in conn.execute(
            """SELECT e.serial FROM orders_orderlineedition ole JOIN catalog_edition e ON e.id = ole.edition_id
               WHERE e.product_id = %s ORDER BY e.serial""", (product,)).fetchall()]
        held = conn.execute("SELECT count(*) FROM catalog_edition WHERE product_id = %s AND status <> 'available'",
                            (product,)).fetchone()[0]  # type: ignore[index]
        found = conn.execute("SELECT count(*) FROM orders_order WHERE id = ANY(%s::uuid[])", (ids,)).fetchone()[0]  # type: ignore[index]
    unexpected = {c: n for c, n in codes.items() if not c.startswith("409 sold_out")}
    ok = len(ids) == 300 and serials == list(range(1, 301)) and held == 300 and found == 300 and not unexpected and not res.errors
    report.check(f"S2 race #{k}: exactly 300 sold, serials 1..300 once each, every 201 has its order, the rest sold_out",
                 ok, created=len(ids), serial_count=len(serials), distinct=len(set(serials)), held=held, orders_found=found,
                 unexpected_answers=unexpected, transport_errors=res.errors)


# --- S3 ------------------------------------------------------------------------------------------


def s3(world: World) -> Report:
    report = Report("S3", "catalog: GET /api/v1/products/ vs a minimal DRF view returning the same rows")
    with world.conn() as conn:
        if conn.execute("SELECT count(*) FROM catalog_product WHERE slug LIKE 's3-%%'").fetchone()[0] == 0:  # type: ignore[index]
            seed.catalog(conn, world.exhibitor_id, "s3", per_kind=100)
        conn.execute("ANALYZE")
    conc = 8
    counts = {}
    for size in (1, 100):
        for label, path in (("real", "/api/v1/products/"), ("minimal", "/bench/minimal/products/")):
            cap = djhelper(MAIN_DB, "capture", {"method": "GET", "path": f"{path}?page_size={size}"})
            counts[f"{label}_page_{size}"] = len(cap["queries"])
            if label == "real" and size == 100:
                report.extra["catalog_sql_page_100"] = cap["queries"]
    report.extra["queries"] = counts
    same = counts["real_page_1"] == counts["real_page_100"]
    report.check("query count identical for page sizes 1 and 100", same, **counts)
    for size in (1, 20, 100):
        def run(path: str, k: int, size: int = size) -> float:
            meter = world.meter()
            meter.start()
            res = run_load(lambda i: json_request("GET", f"{path}?page_size={size}", None, _xff(i)), port=WEB_PORT,
                           total=100_000, concurrency=conc, max_seconds=RUN_SECONDS)
            report.cpu.append({"case": f"S3 {path} page={size} #{k}", **meter.stop()})
            report.check(f"S3 {path} page={size} #{k}: all 200", set(res.statuses()) == {200}, statuses=dict(res.statuses()))
            report.extra.setdefault("runs", []).append({"path": path, "page_size": size, **res.summary()})
            return res.rps

        a, b, ratios = abba(lambda k: run("/api/v1/products/", k), lambda k: run("/bench/minimal/products/", k), cycles=CYCLES)
        report.case(f"rps page_size={size}", a_label="GET /api/v1/products/ (rps)", b_label="minimal DRF view (rps)",
                    unit="ratio", a=a, b=b, ratios=ratios, target=">= 0.6", met=statistics.median(ratios) >= 0.6,
                    target_value=0.6)
        if size == 20:
            max_rate = max(a)
    # Tail at 70 % of the measured maximum, open loop.
    tails = []
    for k in range(2):
        res = run_load(lambda i: json_request("GET", "/api/v1/products/?page_size=20", None, _xff(i)), port=WEB_PORT,
                       total=int(0.7 * max_rate * RUN_SECONDS) + 1, concurrency=32, rate=0.7 * max_rate, max_seconds=RUN_SECONDS + 5)
        s = res.summary()
        tails.append(s)
        report.check(f"S3 open loop #{k}: all 200", set(res.statuses()) == {200}, statuses=dict(res.statuses()))
    tail_ratios = [t["p99_ms"] / t["p50_ms"] for t in tails]
    report.case("p99/p50 at 70% of max (page 20)", a_label="p99 (ms)", b_label="p50 (ms)", unit="ratio",
                a=[t["p99_ms"] for t in tails], b=[t["p50_ms"] for t in tails], ratios=tail_ratios, target="<= 4",
                met=statistics.median(tail_ratios) <= 4, target_value=4.0, higher_is_better=False,
                offered_rate=round(0.7 * max_rate, 1))
    report.extra["open_loop_runs"] = tails
    return report


# --- S5 ------------------------------------------------------------------------------------------


def _zipf_choices(n_slots: int, count: int, s: float, seed_value: int) -> list[int]:
    weights = [1 / (rank ** s) for rank in range(1, n_slots + 1)]
    return random.Random(seed_value).choices(range(n_slots), weights=weights, k=count)


BARE_BOOKING_PATH = "/bench/bare/bookings/"


def _bare_booking(product_id: int, token: str, i: int, slot: int) -> Any:
    return json_request("POST", BARE_BOOKING_PATH, {"lines": [{"product": product_id, "quantity": 1, "slot": slot}]},
                        {"X-Session-Token": token, **_xff(i)})


def s5(world: World) -> Report:
    """Bookings against pgbench's conditional update, and against S5's floor: the bare booking view.

    pgbench runs one autocommit statement; any Django view serving the booking (session, product
    and slot reads, the claim and order rows in a transaction, the payment) is far from it, so the
    same runs are also compared with a bare Django view issuing the same statements
    (bench/views.py `bare_booking`): what DRF and our code add, as S1b does for purchases.
    """
    report = Report("S5", "service booking: 2,000 bookings over 200 slots of capacity 3 (Zipf) vs pgbench conditional update")
    buyers = world.ensure_users(2000)
    conc = 16
    # The conditional update, captured from one real booking.
    with world.conn() as conn:
        cap_product, cap_slots = seed.service(conn, world.exhibitor_id, f"s5-capture-{int(time.time())}", 2, 3)
    cap = _capture(world, body={"lines": [{"product": cap_product, "quantity": 1, "slot": cap_slots[0]}]},
                   token=world.tokens[buyers[0]])
    report.check("captured booking answered 201", cap["status"] == 201, status=cap["status"])
    bare = djhelper(MAIN_DB, "capture", {"method": "POST", "path": BARE_BOOKING_PATH,
                                         "body": {"lines": [{"product": cap_product, "quantity": 1, "slot": cap_slots[1]}]},
                                         "headers": {"X-Session-Token": world.tokens[buyers[1]]},
                                         "warm_path": "/api/v1/orders/?page_size=1"})
    kinds = {"api": _statement_kinds(cap["queries"]), "bare": _statement_kinds(bare["queries"])}
    report.check("the bare booking view runs the same statements as the endpoint (literals aside)",
                 bare["status"] == 201 and kinds["api"] == kinds["bare"],
                 **{side: [k[:160] for k in found] for side, found in kinds.items()})
    update = next(q for q in cap["queries"] if "catalog_serviceslot" in q and "UPDATE" in q)
    report.extra["booking_sql"] = cap["queries"]
    script = re.sub(rf"\({cap_slots[0]}::bigint", "(:slot::bigint", " ".join(update.split()))
    script = "\\set slot :base + random_zipfian(0, 199, 1.1)\n" + script + ";\n"
    (RESULTS_DIR / "S5_pgbench.sql").write_text(script)
    # Warm the web tier (threads, the users' cached rows) on slots of their own: the first run
    # after a start would otherwise pay what every later one does not.
    with world.conn() as conn:
        warm_product, warm_slots = seed.service(conn, world.exhibitor_id, f"s5-warm-{int(time.time())}", 200, 3)
    run_load(lambda i: _order_post(warm_product, world.tokens[buyers[i]], i, slot=warm_slots[i % 200]), port=WEB_PORT,
             total=2000, concurrency=conc, max_seconds=60)

    def run_http(k: int, side: str = "api") -> float:
        with world.conn() as conn:
            product, slots = seed.service(conn, world.exhibitor_id, f"s5-{side}-{int(time.time() * 1000)}-{k}", 200, 3)
        picks = _zipf_choices(200, 2000, 1.1, k)
        post = _order_post if side == "api" else _bare_booking
        meter = world.meter()
        meter.start()
        res = run_load(lambda i: post(product, world.tokens[buyers[i]], i, slot=slots[picks[i]]), port=WEB_PORT,
                       total=2000, concurrency=conc, max_seconds=120, keep_body=lambda s: s == 201)
        report.cpu.append({"case": f"S5 {side} #{k}", **meter.stop()})
        _check_s5(report, world, product, res, f"{side} #{k}")
        report.extra.setdefault("http_runs" if side == "api" else "bare_runs", []).append(res.summary())
        return len(res.responses) / res.seconds

    def run_pg(k: int) -> float:
        with world.conn() as conn:
            product, slots = seed.service(conn, world.exhibitor_id, f"s5-pg-{int(time.time() * 1000)}-{k}", 200, 3)
        assert slots == list(range(slots[0], slots[0] + 200)), "slot ids must be contiguous for the Zipf pick"
        meter = world.meter()
        meter.start()
        res = pgb.run(MAIN_DB, script, clients=min(conc, 8), transactions=2000, defines={"base": slots[0]})
        report.cpu.append({"case": f"S5 pgbench #{k}", **meter.stop()})
        with world.conn() as conn:
            over = conn.execute("SELECT count(*) FROM catalog_serviceslot WHERE product_id = %s AND taken > capacity",
                                (product,)).fetchone()[0]  # type: ignore[index]
        report.check(f"S5 pgbench #{k}: no slot over capacity", over == 0 and res.failed == 0, over=over, failed=res.failed)
        return res.tps

    a, b, ratios = abba(run_http, run_pg, cycles=CYCLES)
    report.case("bookings/s", a_label="POST /api/v1/orders/ with a slot (answers/s)", b_label="pgbench conditional update (tps)",
                unit="ratio", a=a, b=b, ratios=ratios, target=">= 0.30", met=statistics.median(ratios) >= 0.30, target_value=0.30)
    a, b, ratios = abba(run_http, lambda k: run_http(k, "bare"), cycles=CYCLES)
    report.case("S5b bookings/s: API / bare booking view", a_label="POST /api/v1/orders/ with a slot (answers/s)",
                b_label=f"bare Django view {BARE_BOOKING_PATH} (answers/s)", unit="ratio", a=a, b=b, ratios=ratios,
                target=">= 0.7 (S5b)", met=statistics.median(ratios) >= 0.7, target_value=0.7)
    floor = [bare_rate / pg_rate for bare_rate, pg_rate in zip(b, report.cases[0]["b_values"], strict=False)]
    report.case("floor: bare booking view / pgbench", a_label="bare booking view (answers/s)", b_label="pgbench (tps)",
                unit="ratio", a=b, b=report.cases[0]["b_values"], ratios=floor, target="n/a (the floor)", met=None,
                target_value=0.30)
    report.notes.append("bookings/s counts every answered booking attempt (201 booked or 409 slot_full), as pgbench "
                        "counts every conditional update (row updated or not); 600 of 2,000 can succeed.")
    report.notes.append("the floor pairs each bare-view run with the pgbench run of the same A B B A position of the "
                        "first comparison (not the same moment): a view, not a measurement of its own.")
    return report


def _check_s5(report: Report, world: World, product: int, res: LoadResult, k: str) -> None:
    ids = _created_ids(res)
    with world.conn() as conn:
        over, taken = conn.execute(
            "SELECT count(*) FILTER (WHERE taken > capacity), coalesce(sum(taken), 0) FROM catalog_serviceslot WHERE product_id = %s",
            (product,)).fetchone()  # type: ignore[misc]
        per_slot_over = conn.execute(
            """SELECT count(*) FROM (SELECT l.slot_id, sum(l.quantity) q FROM orders_orderline l WHERE l.product_id = %s
               GROUP BY l.slot_id) x JOIN catalog_serviceslot s ON s.id = x.slot_id WHERE x.q > s.capacity OR x.q <> s.taken""",
            (product,)).fetchone()[0]  # type: ignore[index]
        found = conn.execute("SELECT count(*) FROM orders_order WHERE id = ANY(%s::uuid[])", (ids,)).fetchone()[0]  # type: ignore[index]
    others = {s: n for s, n in res.statuses().items() if s not in (201, 409)}
    ok = over == 0 and per_slot_over == 0 and taken == len(ids) == found and not others and not res.errors
    report.check(f"S5 {k}: no slot over capacity, places taken == 201s == orders found", ok, booked=len(ids),
                 taken=taken, orders_found=found, slots_over=over, lines_vs_taken_mismatch=per_slot_over, other_statuses=others)


# --- S6 ------------------------------------------------------------------------------------------

# The operators' queue summary (apps/operations), read by an operator of the seeded database.
OPS_QUEUE_SUMMARY_PATH: str | None = "/api/v1/ops/queues"
S6_SIZES = {"10k": 10_000, "1m": 1_000_000}
S6_MARK = "bench_seed_v2"
# Growth means history: both databases hold the same open queues (S6_OPEN orders paid and as many
# pending), the rest of the orders are fulfilled. The ops summary counts open queues, so its time
# may grow with them, never with the history (issue 6).
S6_OPEN = 500
S6_OPERATORS = 16


def _s6_database(stack: Stack, label: str, orders: int) -> str:
    name = f"bench_s6_{label}"
    if stack.database_exists(name):
        with psycopg.connect(pg_dsn(name), autocommit=True) as conn:
            ok = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (S6_MARK,)).fetchone()[0]  # type: ignore[index]
            done = ok and conn.execute(f"SELECT orders FROM {S6_MARK}").fetchone()  # noqa: S608
        if done and done[0] == orders:
            log(f"S6: reusing {name} ({orders:,} orders); migrating it to the current schema")
            stack.manage(name, "migrate", "--noinput")
            return name
    log(f"S6: seeding {name} with {orders:,} orders")
    t0 = time.monotonic()
    stack.fresh_database(name)
    with psycopg.connect(pg_dsn(name), autocommit=True) as conn:
        ex = seed.exhibitor(conn, "s6-exhibitor")
        seed.catalog(conn, ex, "s6", per_kind=100)
        product = seed.download(conn, ex, "s6-ordered", None)
        users = seed.users(conn, 10_000, "!unusable")
        span = (users[0], users[-1])
        seed.orders_bulk(conn, user_ids=span, product_id=product, exhibitor_id=ex, count=orders - 2 * S6_OPEN, status="fulfilled")
        seed.orders_bulk(conn, user_ids=span, product_id=product, exhibitor_id=ex, count=S6_OPEN, status="paid", prefix="P")
        seed.orders_bulk(conn, user_ids=span, product_id=product, exhibitor_id=ex, count=S6_OPEN, status="pending_payment",
                         prefix="Q")
        conn.execute("VACUUM ANALYZE")
        conn.execute(f"CREATE TABLE {S6_MARK} (orders bigint, seeded_seconds float)")
        conn.execute(f"INSERT INTO {S6_MARK} VALUES (%s, %s)", (orders, time.monotonic() - t0))  # noqa: S608
    log(f"S6: seeded {name} in {time.monotonic() - t0:.0f}s")
    return name


def s6(world: World) -> Report:
    report = Report("S6", "growth: the same requests at 10k and 1M orders")
    stack = world.stack
    dbs = {label: _s6_database(stack, label, n) for label, n in S6_SIZES.items()}
    ports = {"10k": WEB_PORT + 1, "1m": WEB_PORT + 2}
    servers = {}
    targets: dict[str, dict[str, Any]] = {}
    try:
        for label, db in dbs.items():
            with psycopg.connect(pg_dsn(db), autocommit=True) as conn:
                rows = conn.execute("SELECT id::text, user_id FROM orders_order TABLESAMPLE SYSTEM (1) LIMIT 200").fetchall()
                if len(rows) < 50:
                    rows = conn.execute("SELECT id::text, user_id FROM orders_order ORDER BY random() LIMIT 200").fetchall()
                # Sampled shoppers double as the operators reading the queue summary: several, as
                # an operations room has, so no one operator passes the per-user throttle (1,200 a
                # minute) over the A B B A rounds (about 200 requests/s at concurrency 4).
                operator_ids = sorted({r[1] for r in rows})[:S6_OPERATORS]
                conn.execute("UPDATE accounts_user SET is_superuser = true, is_staff = true WHERE id = ANY(%s)", (operator_ids,))
            tokens = djhelper(db, "mint", {"user_ids": sorted({r[1] for r in rows})})
            targets[label] = {"orders": [(oid, tokens[str(uid)]) for oid, uid in rows],
                              "operators": [tokens[str(uid)] for uid in operator_ids]}
            servers[label] = stack.start_web(db, port=ports[label])
        requests = {
            "catalog page (20)": lambda label, i: json_request("GET", "/api/v1/products/?page_size=20", None, _xff(i)),
            "order detail": lambda label, i: json_request(
                "GET", f"/api/v1/orders/{targets[label]['orders'][i % len(targets[label]['orders'])][0]}/", None,
                {"X-Session-Token": targets[label]["orders"][i % len(targets[label]["orders"])][1], **_xff(i)}),
        }
        if OPS_QUEUE_SUMMARY_PATH is not None:
            requests["ops queue summary"] = lambda label, i: json_request(
                "GET", OPS_QUEUE_SUMMARY_PATH, None,
                {"X-Session-Token": targets[label]["operators"][i % len(targets[label]["operators"])], **_xff(i)})
        for name, make in requests.items():
            def run(label: str, k: int, make: Any = make, name: str = name) -> float:
                res = run_load(lambda i: make(label, i), port=ports[label], total=100_000, concurrency=4,
                               max_seconds=RUN_SECONDS * 0.75)
                report.check(f"S6 {name} at {label} #{k}: all 200", set(res.statuses()) == {200}, statuses=dict(res.statuses()))
                report.extra.setdefault("runs", []).append({"request": name, "orders": label, **res.summary()})
                return statistics.median(res.latencies())

            big, small, ratios = abba(lambda k: run("1m", k), lambda k: run("10k", k), cycles=CYCLES)
            report.case(f"{name}: p50 at 1M / at 10k", a_label="p50 latency at 1M orders (s)", b_label="p50 latency at 10k orders (s)",
                        unit="ratio", a=big, b=small, ratios=ratios, target="<= 1.5", met=statistics.median(ratios) <= 1.5,
                        target_value=1.5, higher_is_better=False)
        if OPS_QUEUE_SUMMARY_PATH is None:
            report.notes.append("ops queue summary: NOT MEASURED - the endpoint does not exist yet "
                                "(set OPS_QUEUE_SUMMARY_PATH in bench/scenarios.py when it lands).")
    finally:
        for server in servers.values():
            stack.stop_server(server)
    with psycopg.connect(pg_dsn(dbs["1m"]), autocommit=True) as conn:
        seeded = conn.execute(f"SELECT seeded_seconds FROM {S6_MARK}").fetchone()[0]  # type: ignore[index]  # noqa: S608
    report.extra["seed_seconds_1m"] = round(seeded, 1)
    return report


# --- profiles --------------------------------------------------------------------------------------


def profile(world: World, name: str, make: Any, seconds: float = 8.0) -> dict[str, Any]:
    """py-spy on every gunicorn worker while a load runs; saves collapsed stacks and a top list."""
    import threading

    pyspy = str(Path(os.sys.executable).parent / "py-spy")
    assert world.web is not None
    workers = [p for p in world.web.pids() if p != world.web.proc.pid]
    outs, procs = [], []
    for pid in workers:
        out = RESULTS_DIR / f"{name}_profile_{pid}.txt"
        outs.append(out)
        procs.append(subprocess.Popen([pyspy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw",
                                       "-o", str(out), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)
    t = threading.Thread(target=lambda: run_load(make, port=WEB_PORT, total=100_000, concurrency=8, max_seconds=seconds - 1.5))
    t.start()
    t.join()
    for p in procs:
        p.wait(timeout=60)
    stacks: dict[str, int] = {}
    for out in outs:
        if out.exists():
            for line in out.read_text(errors="replace").splitlines():  # py-spy may cut a frame name mid-character
                stack_text, _, count = line.rpartition(" ")
                if count.isdigit():
                    stacks[stack_text] = stacks.get(stack_text, 0) + int(count)
    merged = RESULTS_DIR / f"{name}_profile.collapsed.txt"
    merged.write_text("\n".join(f"{k} {v}" for k, v in stacks.items()))
    for out in outs:
        out.unlink(missing_ok=True)
    summary = _summarise(stacks)
    (RESULTS_DIR / f"{name}_profile_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _summarise(stacks: dict[str, int]) -> dict[str, Any]:
    """Share of samples by area (inclusive) and the top leaf functions (exclusive)."""
    total = sum(v for k, v in stacks.items() if "idle" not in k) or 1
    areas = {
        "db driver (psycopg, waiting on Postgres)": ("psycopg/",),
        "django ORM / SQL compile": ("django/db/models/", "django/db/backends/"),
        "DRF serializers": ("rest_framework/serializers.py", "rest_framework/fields.py", "rest_framework/relations.py"),
        "DRF views/request/auth/throttle": ("rest_framework/views.py", "rest_framework/request.py", "rest_framework/throttling.py",
                                            "rest_framework/authentication.py", "allauth/"),
        "JSON render": ("rest_framework/renderers.py", "json/"),
        "pagination / filters": ("rest_framework/pagination.py", "django_filters/"),
        "middleware (django, prometheus, structlog, whitenoise)": ("django/middleware/", "django_prometheus/", "django_structlog/",
                                                                 "whitenoise/", "corsheaders/", "django/contrib/sessions/"),
        "logging (structlog/logging)": ("structlog/", "logging/__init__.py"),
        "redis cache (throttle, flags)": ("redis/", "django/core/cache/"),
        "project code (apps/, marketplace/)": ("(apps/", "(marketplace/"),
        "gunicorn / socket I/O": ("gunicorn/",),
    }
    inclusive = dict.fromkeys(areas, 0)
    leaves: dict[str, int] = {}
    for stack_text, count in stacks.items():
        frames = stack_text.split(";")
        for name, needles in areas.items():
            if any(n in stack_text for n in needles):
                inclusive[name] += count
        leaf = frames[-1] if frames else "?"
        leaves[leaf] = leaves.get(leaf, 0) + count
    return {
        "samples": total,
        "inclusive_share": {k: round(v / total, 3) for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])},
        "top_leaf_functions": [{"frame": k, "share": round(v / total, 3)}
                               for k, v in sorted(leaves.items(), key=lambda kv: -kv[1])[:15]],
    }


def settings_for(world: World, **extra: Any) -> dict[str, Any]:
    return settings_snapshot(MAIN_DB, quick=QUICK, run_seconds=RUN_SECONDS, abba_cycles=CYCLES, **extra)
