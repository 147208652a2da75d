"""What every scenario shares: A B B A rounds, ratios with their spread, the results file and chart."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.stack import CELERY_CONCURRENCY, DB_CONN_MAX_AGE, GUNICORN_THREADS, GUNICORN_WORKERS, RESULTS_DIR, ROOT, django_env, log, pg_dsn


def djhelper(database: str, command: str, payload: dict[str, Any]) -> Any:
    # The payload goes on stdin: 10,000 order ids (S4 at full size) exceed the kernel's argument limit.
    proc = subprocess.run([sys.executable, "-m", "bench.djhelper", command, "-"], input=json.dumps(payload),
                          env=django_env(database), cwd=ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or "@@BENCH@@" not in proc.stdout:
        raise RuntimeError(f"djhelper {command} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.split("@@BENCH@@", 1)[1])


def abba(run_a: Callable[[int], float], run_b: Callable[[int], float], *, cycles: int) -> tuple[list[float], list[float], list[float]]:
    """Run A B B A `cycles` times; returns (a values, b values, a/b ratio per adjacent A-B pair)."""
    a_values: list[float] = []
    b_values: list[float] = []
    for cycle in range(cycles):
        a1 = run_a(cycle * 2)
        b1 = run_b(cycle * 2)
        b2 = run_b(cycle * 2 + 1)
        a2 = run_a(cycle * 2 + 1)
        a_values += [a1, a2]
        b_values += [b1, b2]
    ratios = [a / b if b else float("nan") for a, b in zip(a_values, b_values, strict=True)]
    return a_values, b_values, ratios


def ratio_stats(ratios: list[float]) -> dict[str, Any]:
    clean = [r for r in ratios if r == r]
    if not clean:
        return {"ratios": ratios, "median": None, "min": None, "max": None, "spread": None}
    med = statistics.median(clean)
    return {"ratios": [round(r, 4) for r in ratios], "median": round(med, 4), "min": round(min(clean), 4),
            "max": round(max(clean), 4), "spread": round(max(clean) - min(clean), 4)}


@dataclass
class Report:
    scenario: str
    title: str
    cases: list[dict[str, Any]] = field(default_factory=list)
    correctness: list[dict[str, Any]] = field(default_factory=list)
    cpu: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def check(self, name: str, ok: bool, **detail: Any) -> None:
        self.correctness.append({"check": name, "ok": bool(ok), **detail})
        if not ok:
            log(f"CORRECTNESS FAILED: {name} {detail}")

    def case(self, name: str, *, a_label: str, b_label: str, unit: str, a: list[float], b: list[float], ratios: list[float],
             target: str, met: bool | None, higher_is_better: bool = True, **extra: Any) -> dict[str, Any]:
        entry = {"name": name, "a": a_label, "b": b_label, "unit": unit, "a_values": [round(v, 4) for v in a],
                 "b_values": [round(v, 4) for v in b], **ratio_stats(ratios), "target": target, "met": met,
                 "higher_is_better": higher_is_better, **extra}
        self.cases.append(entry)
        log(f"{self.scenario} {name}: median {entry['median']} (min {entry['min']}, max {entry['max']}), target {target}: "
            f"{'met' if met else 'NOT met' if met is not None else 'n/a'}")
        return entry

    def write(self, settings: dict[str, Any]) -> dict[str, Any]:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        doc = {"scenario": self.scenario, "title": self.title, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "duration_seconds": round(time.time() - self.started, 1), "settings": settings, "cases": self.cases,
               "correctness": self.correctness, "all_correct": all(c["ok"] for c in self.correctness),
               "cpu_split_seconds": self.cpu, "notes": self.notes, **self.extra}
        (RESULTS_DIR / f"{self.scenario}.json").write_text(json.dumps(doc, indent=2, default=str))
        chart(doc)
        return doc


def settings_snapshot(database: str, **extra: Any) -> dict[str, Any]:
    with psycopg.connect(pg_dsn(database), autocommit=True) as conn:
        pg = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
              for name in ("server_version", "synchronous_commit", "fsync", "full_page_writes", "shared_buffers",
                           "max_connections", "work_mem")}
    return {
        "cpus": os.cpu_count(),
        "gunicorn": {"worker_class": "gthread", "workers": GUNICORN_WORKERS, "threads": GUNICORN_THREADS,
                     "django_settings": "config.settings.bench (production + no TLS redirect)", "DEBUG": False},
        "db_pool": {"kind": "persistent connections (CONN_MAX_AGE)", "conn_max_age": DB_CONN_MAX_AGE,
                    "max_server_connections": GUNICORN_WORKERS * GUNICORN_THREADS},
        "celery": {"pool": "prefork", "concurrency": CELERY_CONCURRENCY, "acks_late": True, "prefetch_multiplier": 1},
        "postgres": pg,
        **extra,
    }


def chart(doc: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the harness installs it
        log("matplotlib missing: no chart")
        return
    cases = [c for c in doc["cases"] if c.get("median") is not None]
    if not cases:
        return
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(cases) + 2), 4.2))
    names = [c["name"] for c in cases]
    medians = [c["median"] for c in cases]
    lows = [c["median"] - c["min"] for c in cases]
    highs = [c["max"] - c["median"] for c in cases]
    colors = ["#2e7d32" if c["met"] else "#c62828" if c["met"] is False else "#757575" for c in cases]
    ax.bar(names, medians, yerr=[lows, highs], capsize=6, color=colors)
    for i, c in enumerate(cases):
        if c.get("target_value") is not None:
            ax.hlines(c["target_value"], i - 0.4, i + 0.4, colors="black", linestyles="dashed")
        ax.annotate(f"{c['median']:.2f}", (i, c["median"]), ha="center", va="bottom", fontsize=8, xytext=(0, 3),
                    textcoords="offset points")
    ax.set_ylabel("ratio (median, min-max over A B B A pairs)")
    ax.set_title(f"{doc['scenario']}: {doc['title']}\n(green met, red not met; dashed: target)", fontsize=10)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / f"{doc['scenario']}.png", dpi=110)
    plt.close(fig)
