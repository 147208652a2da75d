"""CPU per request, in process: what one purchase costs the web tier, Postgres and Redis.

    .venv/bin/python -m bench.cpu purchase -n 2000          # POST /api/v1/orders/ (S1's request)
    .venv/bin/python -m bench.cpu booking -n 2000           # the same with a slot (S5's request, slot with room)
    .venv/bin/python -m bench.cpu full -n 2000              # the same on a full slot: 409 slot_full (most of S5's answers)
    .venv/bin/python -m bench.cpu bare -n 2000              # S1b's bare Django view (bench/views.py)
    .venv/bin/python -m bench.cpu fulfil -n 500             # S4's task body: fulfil one paid order (download line), and
                                                            # the notification tasks it enqueues (notify_cpu_ms)
    .venv/bin/python -m bench.cpu purchase --cprofile /tmp/p.txt   # and where it goes (cProfile, top 60)
    .venv/bin/python -m bench.cpu purchase --keep           # leave Postgres/Redis running for the next call

Wall-clock rates are noisy on a shared 2-core machine; CPU seconds per request are not (much): the
request runs through `config.wsgi.application` (every middleware, DRF, the services) exactly as
gunicorn calls it, minus gunicorn's HTTP parsing, one request at a time, and the CPU of this
process, of its Postgres backend and of Redis is read before and after. Queries per request come
from Django's query log on one extra request. Uses its own data folder (bench/.data/cpu) and ports,
so it runs beside a `make bench`. Development tool: decide with it, confirm with the A/B ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).absolute().parent.parent
os.environ.setdefault("BENCH_DATA_DIR", str(ROOT / "bench" / ".data" / "cpu"))
os.environ.setdefault("BENCH_PG_PORT", "54349")
os.environ.setdefault("BENCH_REDIS_PORT", "63829")

DB = "bench_cpu"


def _environ(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    path_info, _, query = path.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path_info, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8391", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    if body:
        env["CONTENT_TYPE"] = "application/json"
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def _child(args: dict[str, Any]) -> dict[str, Any]:
    import cProfile
    import pstats

    import django

    django.setup()
    import psutil
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.wsgi import application

    statuses: dict[int, int] = {}

    notify = {"cpu": 0.0, "tasks": 0, "sent": 0}
    if args.get("order_ids"):
        # The notification tasks a fulfilment enqueues run here too, as the same worker runs them in
        # S4 (their CPU is counted apart as well: notify_cpu_ms). Nothing goes to the broker.
        from config.celery import app

        queued: list[tuple[str, dict[str, Any]]] = []
        app.send_task = lambda name, kwargs=None, **_: queued.append((name, kwargs or {}))  # type: ignore[method-assign,assignment]

    def fulfil(i: int) -> tuple[int, bytes]:
        from apps.fulfilment.tasks import fulfil_order
        from apps.notifications.tasks import send_batch

        created = fulfil_order.run(order_id=args["order_ids"][i])  # the task's body, as the worker runs it
        statuses[created] = statuses.get(created, 0) + 1
        t0 = time.process_time()
        while queued:
            name, kwargs = queued.pop(0)
            if name == send_batch.name:
                notify["sent"] += send_batch.run(**kwargs)
                notify["tasks"] += 1
        notify["cpu"] += time.process_time() - t0
        return 200, b""

    def call(i: int) -> tuple[int, bytes]:
        if args.get("order_ids"):
            return fulfil(i)
        line: dict[str, Any] = {"product": args["product"], "quantity": 1}
        if args.get("slots"):
            line["slot"] = args["slots"][i % len(args["slots"])]
        body = json.dumps({"lines": [line]}).encode()
        tokens = args["tokens"]
        headers = {"X-Session-Token": tokens[i % len(tokens)], "X-Forwarded-For": f"10.0.{(i >> 8) & 255}.{i & 255}"}
        seen: list[str] = []
        result = application(_environ("POST", args["path"], body, headers), lambda status, hdrs, exc=None: seen.append(status))
        out = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        code = int(seen[0].split()[0])
        statuses[code] = statuses.get(code, 0) + 1
        return code, out

    for i in range(args["warmup"]):
        call(i)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cur.fetchone()[0])
    redis = [psutil.Process(p) for p in args["redis_pids"]]

    def cpu(procs: list[Any]) -> float:
        try:
            return sum(t.user + t.system for t in (p.cpu_times() for p in procs))
        except psutil.NoSuchProcess:  # a reconnect (CONN_MAX_AGE); the web figures still hold
            return float("nan")

    n = args["n"]
    profiler = cProfile.Profile(time.thread_time) if args.get("cprofile") else None  # CPU, not waits
    statuses.clear()
    notify.update(cpu=0.0, tasks=0, sent=0)
    pg0, rd0, me0, wall0 = cpu([backend]), cpu(redis), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for i in range(args["warmup"], args["warmup"] + n):
        call(i)
    if profiler:
        profiler.disable()
    me1, wall1, pg1, rd1 = time.process_time(), time.perf_counter(), cpu([backend]), cpu(redis)
    with CaptureQueriesContext(connection) as ctx:
        code, body = call(args["warmup"] + n)
    queries = [q["sql"] for q in ctx.captured_queries]
    if profiler:
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("cumulative").print_stats(80)
        stats.sort_stats("tottime").print_stats(50)
        Path(args["cprofile"]).write_text(stream.getvalue())
        profiler.dump_stats(args["cprofile"] + ".prof")
    control = sum(1 for q in queries if q.strip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")))
    return {
        "requests": n, "statuses": statuses, "last_status": code, "last_body": body[:300].decode(errors="replace"),
        "web_cpu_ms": round((me1 - me0) / n * 1000, 3), "postgres_cpu_ms": round((pg1 - pg0) / n * 1000, 3),
        "redis_cpu_ms": round((rd1 - rd0) / n * 1000, 3), "wall_ms": round((wall1 - wall0) / n * 1000, 3),
        **({"notify_cpu_ms": round(notify["cpu"] / n * 1000, 3), "notify_tasks": notify["tasks"],
            "notifications_sent": notify["sent"]} if args.get("order_ids") else {}),
        "queries": len(queries) - control, "transaction_control": control, "sql": queries,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu")
    parser.add_argument("what", choices=["purchase", "booking", "full", "bare", "fulfil"])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--cprofile")
    parser.add_argument("--keep", action="store_true", help="leave Postgres and Redis running")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request")
    parser.add_argument("--callgrind", action="store_true",
                        help="instructions per request (valgrind): two runs of n/5 and n requests, the difference / 4n/5")
    args = parser.parse_args(argv)

    from bench import seed
    from bench.common import djhelper
    from bench.stack import Stack, django_env, pg_dsn

    stack = Stack()
    stack.start_services()
    try:
        if not stack.database_exists(DB):
            stack.ensure_template()
            stack.fresh_database(DB)
        else:
            stack.manage(DB, "migrate", "--noinput")
        stamp = int(time.time() * 1000)
        total = args.n + args.warmup + 1
        with seed.connect(pg_dsn(DB)) as conn:
            ex = seed.exhibitor(conn, "cpu-exhibitor")
            slots: list[int] = []
            order_ids: list[str] = []
            if args.what == "fulfil":  # S4's orders: one download line each, paid
                product = seed.download(conn, ex, f"cpu-dl-{stamp}", None)
                buyers = seed.users(conn, 200, "!unusable")
                prefix = f"C{stamp % 10_000}"
                seed.orders_bulk(conn, user_ids=(buyers[0], buyers[-1]), product_id=product, exhibitor_id=ex, count=total,
                                 status="paid", prefix=prefix)
                order_ids = [r[0] for r in conn.execute("SELECT id::text FROM orders_order WHERE number LIKE %s ORDER BY number",
                                                        (prefix + "%",)).fetchall()]
            elif args.what == "booking":
                product, slots = seed.service(conn, ex, f"cpu-svc-{stamp}", 50, total)
            elif args.what == "full":  # one place: the first warm-up request books it, the rest answer 409 slot_full
                product, slots = seed.service(conn, ex, f"cpu-full-{stamp}", 1, 1)
            else:
                product = seed.collectible(conn, ex, f"cpu-drop-{stamp}", total + 1000)
            conn.execute("ANALYZE catalog_edition, catalog_product, catalog_serviceslot")
            users = seed.users(conn, 32, "!unusable")  # token sessions only: no password is ever checked
        tokens = list(djhelper(DB, "mint", {"user_ids": users}).values())
        path = "/bench/bare/orders/" if args.what == "bare" else "/api/v1/orders/"
        payload = {"product": product, "slots": slots, "order_ids": order_ids, "tokens": tokens, "n": args.n,
                   "warmup": args.warmup, "path": path, "cprofile": args.cprofile, "redis_pids": stack.redis_pids()}
        env = django_env(DB, DB_CONN_MAX_AGE="36000")  # one backend for the whole run (its CPU is read)
        if args.callgrind:
            counts = []
            for n in (args.n // 5, args.n):
                proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
                                       "bench.cpu", "_child"], input=json.dumps({**payload, "n": n}), env=env,
                                      cwd=ROOT, capture_output=True, text=True, timeout=7200, check=False)
                found = [line for line in proc.stderr.splitlines() if "Collected" in line]
                if proc.returncode != 0 or not found:
                    print(proc.stdout[-3000:], proc.stderr[-6000:])
                    return 1
                counts.append(int(found[-1].split(":")[-1].strip()))
            per = (counts[1] - counts[0]) / (args.n - args.n // 5)
            print(json.dumps({"what": args.what, "instructions_per_request_millions": round(per / 1e6, 3), "runs": counts}))
            return 0
        proc = subprocess.run([sys.executable, "-m", "bench.cpu", "_child"], input=json.dumps(payload), env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False)
        if proc.returncode != 0 or "@@BENCH@@" not in proc.stdout:
            print(proc.stdout[-3000:], proc.stderr[-6000:])
            return 1
        result = json.loads(proc.stdout.split("@@BENCH@@", 1)[1])
        sql = result.pop("sql")
        print(json.dumps({"what": args.what, **result}, indent=1))
        if args.sql:
            for q in sql:
                print("  ", " ".join(q.split())[:int(os.environ.get("BENCH_CPU_SQL_WIDTH", "400"))])
    finally:
        if not args.keep:
            stack.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        out = _child(json.loads(sys.stdin.read()))
        sys.stdout.write("\n@@BENCH@@" + json.dumps(out))
        sys.exit(0)
    sys.exit(main())
