"""The benchmark stack on loopback: its own embedded Postgres and Redis (bench/.data, own ports),
gunicorn with config.settings.bench, a Celery worker. Stops only the processes it started.

Nothing here touches the developer's `.data/` or the suite's databases: DATA_DIR, ports and
database names are all the bench's own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from marketplace import devservices

ROOT = Path(__file__).absolute().parent.parent
BENCH_DIR = ROOT / "bench"
# BENCH_DATA_DIR: a second harness (another checkout, a profiling run) beside a running one.
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or BENCH_DIR / ".data")
LOG_DIR = DATA_DIR / "logs"
RESULTS_DIR = BENCH_DIR / "results"
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "54339"))
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "63819"))
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "8391"))
TEMPLATE_DB = "bench_template"
MAIN_DB = "bench_main"

# Settings that change the results; all are written into every results file.
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))
CELERY_CONCURRENCY = int(os.environ.get("BENCH_CELERY_CONCURRENCY", "2"))
DB_CONN_MAX_AGE = int(os.environ.get("BENCH_DB_CONN_MAX_AGE", "60"))


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _secret_key() -> str:
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()


def _signing_key() -> str:
    """A fresh private Ed25519 key (32 random bytes, base64): production refuses the dev key."""
    path = DATA_DIR / "fulfilment_signing_key"
    if not path.exists():
        import base64

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


def db_url(name: str) -> str:
    return f"postgres://postgres@127.0.0.1:{PG_PORT}/{name}"


def pg_dsn(name: str) -> str:
    return f"host=127.0.0.1 port={PG_PORT} user=postgres dbname={name}"


def redis_url() -> str:
    return f"redis://127.0.0.1:{REDIS_PORT}/0"


def django_env(database: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DJANGO_SECRET_KEY": _secret_key(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "FULFILMENT_SIGNING_KEY": _signing_key(),
        "DATABASE_URL": db_url(database),
        "REDIS_URL": redis_url(),
        # One key space per database: S6's servers (their own databases, whose user ids overlap the
        # main one's) share the Redis with the main server; their throttle counts, cached users and
        # sold-out flags must not meet (a production deployment has one database per key space).
        "CACHE_KEY_PREFIX": f"bench-{database}",
        "DB_CONN_MAX_AGE": str(DB_CONN_MAX_AGE),
        "DATA_DIR": str(DATA_DIR),
        "PAYMENT_PROVIDER": "simulated",
        "PAYMENTS_ALLOW_SIMULATED": "true",  # production settings refuse it otherwise
        # The harness stands in for the proxy: its X-Forwarded-For (one address per simulated
        # shopper, scenarios._xff) is the client address of the throttles, as behind a real one.
        "TRUSTED_PROXY_COUNT": "1",
        "SENTRY_DSN": "",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name) or name


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def pids(self) -> list[int]:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.proc.pid)
            return [root.pid, *(c.pid for c in root.children(recursive=True))]
        return []


@dataclass
class Stack:
    """Postgres + Redis for the whole run; gunicorn/celery started and stopped per scenario."""

    services: devservices.Services | None = None
    servers: list[Server] = field(default_factory=list)

    # --- services ------------------------------------------------------------------------------

    def start_services(self) -> None:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        url, stop_pg = devservices.start_embedded_postgres(DATA_DIR, PG_PORT)
        rurl, stop_redis = devservices.start_embedded_redis(DATA_DIR, REDIS_PORT)
        self.services = devservices.Services(database_url=url, redis_url=rurl)
        for stop in (stop_pg, stop_redis):
            if stop:
                self.services._stoppers.append(stop)

    def postmaster_pid(self) -> int | None:
        pid_file = DATA_DIR / "postgres" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pid_file.read_text().splitlines()[0])
        return None

    def postgres_pids(self) -> list[int]:
        pid = self.postmaster_pid()
        if pid is None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(pid)
            return [root.pid, *(c.pid for c in root.children())]
        return []

    def redis_pids(self) -> list[int]:
        pid_file = DATA_DIR / "redis" / "redis.pid"
        with contextlib.suppress(OSError, ValueError):
            return [int(pid_file.read_text().strip())]
        return []

    def stop(self) -> None:
        self.stop_servers()
        if self.services:
            self.services.stop()

    # --- databases -----------------------------------------------------------------------------

    def manage(self, database: str, *args: str) -> None:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=django_env(database), cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)

    def ensure_template(self) -> None:
        """A migrated, empty database every other bench database is copied from (CREATE ... TEMPLATE)."""
        import psycopg

        with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE_DB,)).fetchone():
                conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        log("migrating the template database")
        self.manage(TEMPLATE_DB, "migrate", "--noinput")

    def fresh_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')

    def database_exists(self, name: str) -> bool:
        import psycopg

        with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
            return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone())

    # --- gunicorn / celery ---------------------------------------------------------------------

    def start_web(self, database: str, *, port: int = WEB_PORT, workers: int = GUNICORN_WORKERS,
                  threads: int = GUNICORN_THREADS) -> Server:
        log_path = LOG_DIR / f"gunicorn-{port}.log"
        cmd = [
            _bin("gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--worker-tmp-dir", "/dev/shm",  # noqa: S108 (gunicorn heartbeat files, not data)
            "--keep-alive", "30", "--backlog", "2048",
        ]
        with log_path.open("ab") as out:
            proc = subprocess.Popen(cmd, env=django_env(database), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        server = Server("gunicorn", proc, log_path)
        self.servers.append(server)
        self._wait_http(f"http://127.0.0.1:{port}/api/v1/products/?page_size=1", proc, 60)
        return server

    def start_worker(self, database: str, *, concurrency: int = CELERY_CONCURRENCY, queues: str = devservices.QUEUES) -> Server:
        log_path = LOG_DIR / "celery.log"
        cmd = [
            _bin("celery"), "-A", "config", "worker", "-Q", queues, "-c", str(concurrency), "--pool", "prefork",
            "-n", f"bench-{os.getpid()}@%h", "--include", "bench.tasks", "--loglevel", "WARNING", "--without-gossip",
            "--without-mingle",
        ]
        with log_path.open("ab") as out:
            proc = subprocess.Popen(cmd, env=django_env(database), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        server = Server("celery", proc, log_path)
        self.servers.append(server)
        self._wait_celery(database, proc, 60)
        return server

    def _wait_http(self, url: str, proc: subprocess.Popen, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {LOG_DIR}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 (loopback URL we built)
                if resp.status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{url} did not answer in {seconds:.0f}s")

    def _wait_celery(self, database: str, proc: subprocess.Popen, seconds: float) -> None:
        from celery import Celery

        app = Celery(broker=redis_url())
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"celery worker exited ({proc.returncode}); see {LOG_DIR}")
                with contextlib.suppress(Exception):
                    if app.control.ping(timeout=1.0):
                        return
                time.sleep(0.3)
        finally:
            app.close()
        raise RuntimeError(f"celery worker did not answer in {seconds:.0f}s")

    def stop_server(self, server: Server) -> None:
        if server.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.proc.pid, signal.SIGTERM)
            try:
                server.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.proc.pid, signal.SIGKILL)
                server.proc.wait(timeout=5)
        if server in self.servers:
            self.servers.remove(server)

    def stop_servers(self) -> None:
        for server in list(self.servers):
            self.stop_server(server)


class CpuMeter:
    """CPU seconds used by groups of processes between start() and stop(): the CPU split."""

    def __init__(self, groups: dict[str, callable]) -> None:  # type: ignore[valid-type]
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._self_before = 0.0
        self._wall = 0.0

    @staticmethod
    def _cpu(pids: list[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(pid).cpu_times()
                out[pid] = t.user + t.system
        return out

    def start(self) -> None:
        self._before = {name: self._cpu(get()) for name, get in self.groups.items()}
        t = os.times()
        self._self_before = t.user + t.system + t.children_user + t.children_system
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._wall
        split: dict[str, float] = {}
        for name, get in self.groups.items():
            after = self._cpu(get())
            before = self._before.get(name, {})
            split[name] = round(sum(v - before.get(pid, 0.0) for pid, v in after.items()), 3)
        t = os.times()
        split["harness (load client, pgbench)"] = round(t.user + t.system + t.children_user + t.children_system - self._self_before, 3)
        split["wall_seconds"] = round(wall, 3)
        return split
