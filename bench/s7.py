"""S7: the consumption-voucher claim race (BENCHMARKS.md S7; apps/vouchers, issue 14).

10,000 distinct shoppers (bulk users with minted sessions: `World.ensure_users`, SQL plus
bench/djhelper.py `mint`) each `POST /api/v1/voucher-campaigns/{slug}/claim` once over HTTP,
concurrency 64, for a campaign of 1,000 vouchers: the p99 of the `409 campaign_exhausted` answers
against `GET /health/`'s p99 at the same concurrency (A B B A, like S2), and claims/s over each race.
Correct when exactly 1,000 answers are 201 with their voucher row, one per shopper, the campaign
counted 1,000, and the other 9,000 answers are `campaign_exhausted`.

`--quick`: 2,000 shoppers for 200 vouchers (same concurrency), one cycle; the JSON says so.
Run with `python -m bench S7` (or `make bench S=S7`); `python -m bench.vouchers` is an alias. It
replaces "SV" (3,000 shoppers for 300 vouchers at concurrency 32), which ran only on its own.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import Report, abba
from bench.load import LoadResult, json_request, percentile, run_load
from bench.scenarios import CYCLES, QUICK, World, _xff
from bench.stack import WEB_PORT

BUYERS = 2_000 if QUICK else 10_000
VOUCHERS = 200 if QUICK else 1_000
CONCURRENCY = 64
# /health/ pings the Celery workers (tens of answers a second here): 2,000 calls at concurrency 64
# give its p99 twenty tail samples at the race's offered load without minutes per round.
HEALTH_REQUESTS = 1_000 if QUICK else 2_000


def campaign(conn: Any, slug: str, vouchers: int) -> int:
    """A platform campaign of `vouchers` vouchers of 10.00 off 20.00, open now, 1 per shopper (the
    row `campaign_save` writes: quantity = budget // face value)."""
    row = conn.execute(
        """INSERT INTO vouchers_campaign (created_at, updated_at, slug, title, title_en, funder_kind, funder_name, currency,
               face_value, min_spend, budget, quantity, scope_kinds, claim_starts_at, claim_ends_at, per_customer_limit, valid_days,
               returns_to_pool, refund_rule, is_active, claimed_count, returned_count)
           VALUES (now(), now(), %(slug)s, 'Bench 10 off 20', 'Bench 10 off 20', 'platform', 'Bench', 'CNY', 1000, 2000,
                   %(budget)s, %(n)s, '{}',
                   now() - interval '1 hour', now() + interval '1 day', 1, 7, false, 'return_voucher', true, 0, 0)
           RETURNING id""", {"slug": slug, "budget": vouchers * 1000, "n": vouchers}).fetchone()
    assert row
    return int(row[0])


def _claim(slug: str, token: str, i: int) -> Any:
    return json_request("POST", f"/api/v1/voucher-campaigns/{slug}/claim", None, {"X-Session-Token": token, **_xff(i)})


def s7(world: World) -> Report:
    report = Report("S7", f"voucher claim race: {BUYERS:,} shoppers for {VOUCHERS:,} vouchers at concurrency {CONCURRENCY} "
                    "vs GET /health/ at the same load")
    report.extra["settings_s7"] = {"quick": QUICK, "shoppers": BUYERS, "vouchers": VOUCHERS, "concurrency": CONCURRENCY,
                                   "health_requests": HEALTH_REQUESTS}
    buyers = world.ensure_users(BUYERS)
    rates: list[float] = []

    def run_race(k: int) -> float:
        slug = f"s7-{int(time.time() * 1000)}-{k}"
        with world.conn() as conn:
            campaign_id = campaign(conn, slug, VOUCHERS)
        meter = world.meter()
        meter.start()
        res = run_load(lambda i: _claim(slug, world.tokens[buyers[i]], i), port=WEB_PORT, total=BUYERS,
                       concurrency=CONCURRENCY, max_seconds=600, keep_body=lambda s: True)
        report.cpu.append({"case": f"S7 race #{k}", **meter.stop()})
        codes: dict[str, int] = {}
        for r in res.responses:
            if r.status != 201:
                code = (r.json() or {}).get("errors", [{}])[0].get("code") if r.body else None
                codes[f"{r.status} {code}"] = codes.get(f"{r.status} {code}", 0) + 1
        exhausted = sorted(r.latency for r in res.responses if r.status == 409)
        p99 = percentile(exhausted, 99) or float("nan")
        seconds = max(res.finished - res.started, 1e-9)
        rates.append(len(res.responses) / seconds)
        _check(report, world, campaign_id, res, k, codes)
        report.extra.setdefault("races", []).append({**res.summary(), "campaign_exhausted_p99_ms": round(p99 * 1000, 2),
                                                     "claims_per_second": round(len(res.responses) / seconds, 1),
                                                     "answers": codes})
        return p99

    def run_health(k: int) -> float:
        meter = world.meter()
        meter.start()
        res = run_load(lambda i: json_request("GET", "/health/", None, _xff(i)), port=WEB_PORT, total=HEALTH_REQUESTS,
                       concurrency=CONCURRENCY, max_seconds=300)
        report.cpu.append({"case": f"S7 health #{k}", **meter.stop()})
        report.extra.setdefault("health", []).append(res.summary())
        report.check(f"S7 health #{k}: all 200", res.statuses().get(200, 0) == len(res.responses), statuses=dict(res.statuses()))
        return percentile(res.latencies(), 99) or float("nan")

    a, b, ratios = abba(run_race, run_health, cycles=CYCLES)
    report.case("campaign_exhausted p99 / health p99", a_label="p99 of 409 campaign_exhausted (s)",
                b_label="p99 of GET /health/ (s)", unit="ratio", a=a, b=b, ratios=ratios, target="<= 3",
                met=statistics.median(ratios) <= 3, target_value=3.0, higher_is_better=False)
    report.extra["claims_per_second"] = [round(r, 1) for r in rates]
    report.notes.append(f"claims/s over each race (all {BUYERS:,} answers): {', '.join(f'{r:.0f}' for r in rates)}")
    return report


def _check(report: Report, world: World, campaign_id: int, res: LoadResult, k: int, codes: dict[str, int]) -> None:
    ids = [r.json()["id"] for r in res.responses if r.status == 201]
    with world.conn() as conn:
        vouchers = conn.execute("SELECT count(*), count(DISTINCT user_id) FROM vouchers_voucher WHERE campaign_id = %s",
                                (campaign_id,)).fetchone()
        claimed = conn.execute("SELECT claimed_count FROM vouchers_campaign WHERE id = %s", (campaign_id,)).fetchone()
        found = conn.execute("SELECT count(*) FROM vouchers_voucher WHERE id = ANY(%s)", (ids,)).fetchone()
    assert vouchers
    assert claimed
    assert found
    unexpected = {c: n for c, n in codes.items() if c != "409 campaign_exhausted"}
    ok = (len(ids) == VOUCHERS and vouchers[0] == VOUCHERS and vouchers[1] == VOUCHERS and claimed[0] == VOUCHERS
          and found[0] == VOUCHERS and not unexpected and not res.errors)
    report.check(f"S7 race #{k}: exactly {VOUCHERS} vouchers, one per shopper, every 201 has its row, the rest campaign_exhausted",
                 ok, created=len(ids), rows=vouchers[0], shoppers=vouchers[1], claimed_count=claimed[0], rows_found=found[0],
                 unexpected_answers=unexpected, transport_errors=res.errors)

