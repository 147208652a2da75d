"""`python -m bench [S1 S1b S2 S3 S4 S5 S6 S7 S8] [--quick]` (or `make bench`, `make bench S=S1`).

Starts the bench stack (bench/stack.py), runs the chosen scenarios (all by default) in the order
S1 S1b S2 S3 S5 S6 S7 S8 S4 (S7: bench/s7.py, S8: bench/s8.py, S4: bench/s4.py, the others
bench/scenarios.py), profiles S1 and S3 with py-spy, writes bench/results/*.json, *.png and
SUMMARY.md, and stops everything it started, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ORDER = ["S1", "S1B", "S2", "S3", "S5", "S6", "S7", "S8", "S4"]


def _ensure_requirements() -> None:
    missing = [m for m in ("matplotlib", "psutil") if importlib.util.find_spec(m) is None]
    if missing or not (Path(sys.executable).parent / "py-spy").exists():
        req = Path(__file__).resolve().parent / "requirements.txt"
        print(f"[bench] installing {req}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", str(req)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="S1 S1b S2..S8 (default: all)")
    parser.add_argument("--quick", action="store_true", help="short rounds, one A B B A cycle (development)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    import os

    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
    _ensure_requirements()
    wanted = [s.upper() for s in args.scenarios] or ORDER
    unknown = [s for s in wanted if s not in ORDER]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    wanted = [s for s in ORDER if s in wanted]

    from bench import scenarios as sc
    from bench import seed
    from bench.stack import MAIN_DB, RESULTS_DIR, Stack, log

    started = time.monotonic()
    stack = Stack()
    world = sc.World(stack)
    summaries = []
    failed = False
    try:
        stack.start_services()
        stack.ensure_template()
        stack.fresh_database(MAIN_DB)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        with seed.connect(world.dsn()) as conn:
            world.exhibitor_id = seed.exhibitor(conn, "bench-exhibitor")
        world.web = stack.start_web(MAIN_DB)
        world.worker = stack.start_worker(MAIN_DB)
        runners = {"S1": sc.s1, "S1B": sc.s1b, "S2": sc.s2, "S3": sc.s3, "S5": sc.s5, "S6": sc.s6}
        from bench import s4 as s4mod
        from bench import s7 as s7mod
        from bench import s8 as s8mod

        runners["S4"] = s4mod.s4
        runners["S7"] = s7mod.s7
        runners["S8"] = s8mod.s8
        for name in wanted:
            log(f"=== {name} ===")
            t0 = time.monotonic()
            try:
                report = runners[name](world)
            except Exception as exc:  # one scenario failing must not hide the others' results
                import traceback

                traceback.print_exc()
                log(f"{name} FAILED: {exc!r}")
                failed = True
                continue
            if not args.no_profile and name in ("S1", "S3"):
                report.extra["profile"] = _profile(world, name)
            doc = report.write(sc.settings_for(world))
            summaries.append(doc)
            log(f"{name} done in {time.monotonic() - t0:.0f}s; all correct: {doc['all_correct']}")
            failed |= not doc["all_correct"]
    finally:
        log("tearing down")
        stack.stop()
    _write_summary(summaries, RESULTS_DIR)
    log(f"finished in {time.monotonic() - started:.0f}s")
    return 1 if failed else 0


def _profile(world: object, name: str) -> dict[str, object]:
    from bench import scenarios as sc
    from bench import seed
    from bench.load import json_request

    w: sc.World = world  # type: ignore[assignment]
    if name == "S1":
        with seed.connect(w.dsn()) as conn:
            product = seed.collectible(conn, w.exhibitor_id, f"profile-{int(time.time())}", 100_000)
        tokens = [w.tokens[u] for u in sorted(w.tokens)[:32]]
        make = lambda i: sc._order_post(product, tokens[i % len(tokens)], i)  # noqa: E731
    else:
        make = lambda i: json_request("GET", "/api/v1/products/?page_size=20", None, sc._xff(i))  # noqa: E731
    return sc.profile(w, name, make)


def _write_summary(docs: list[dict], results: Path) -> None:
    if not docs:
        return
    lines = ["| scenario | measure | median ratio | min - max | target | met |", "| --- | --- | --- | --- | --- | --- |"]
    for doc in docs:
        for case in doc["cases"]:
            met = {True: "yes", False: "**no**", None: "n/a"}[case["met"]]
            lines.append(f"| {doc['scenario']} | {case['name']} | {case['median']} | {case['min']} - {case['max']} | "
                         f"{case['target']} | {met} |")
        for note in doc.get("notes", []):
            lines.append(f"| {doc['scenario']} | note | {note} | | | |")
        ok = "all correct" if doc["all_correct"] else "**CORRECTNESS FAILED**"
        lines.append(f"| {doc['scenario']} | correctness checks ({len(doc['correctness'])}) | {ok} | | | |")
    existing = {}
    path = results / "SUMMARY.json"
    if path.exists():
        existing = json.loads(path.read_text())
        existing.pop("SV", None)  # the former standalone voucher race, now S7
    existing.update({doc["scenario"]: "\n".join(row for row in lines if row.startswith(f"| {doc['scenario']} ")) for doc in docs})
    path.write_text(json.dumps(existing, indent=2))
    table = lines[:2] + [row for key in sorted(existing) for row in existing[key].splitlines()]
    (results / "SUMMARY.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    sys.exit(main())
