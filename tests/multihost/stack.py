"""The production-shaped stack of the multi-host test, one role per host (network namespace):

    lb      HAProxy: health checks, L7 retries + redispatch, per-server counts (stats CSV and log)
    client  where the test's buyers (and its own SQL connections) come from
    pg1     Postgres 15 primary
    pg2     Postgres 15 streaming replica (pg_basebackup -R), DATABASE_REPLICA_URLS
    redis   Redis: broker, cache, sessions, throttles
    web1/2  gunicorn (gthread 2 x 4, as `make run` and production) with tests.multihost.settings
    wk1/2   Celery workers on every queue (prefork, 2 each); wk2 also runs beat (the sweeps)

Every host talks to the others on a private /24 (hosts.Lab); each listens on its own address,
so the standard ports are used everywhere and nothing touches the machine's own Postgres, Redis
or ports (Postgres's unix sockets are off, since those would live in the shared filesystem).
Data and logs live in one temporary folder, removed at the end (kept when a test failed).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.multihost.djseed import MARK as SEED_MARK
from tests.multihost.hosts import Host, Lab, log, pg_bin, pg_os_user, redis_server_bin

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SUBNET = "10.200.0"
ADDRESSES = {"lb": 2, "client": 3, "pg1": 11, "pg2": 12, "redis": 13, "web1": 21, "web2": 22, "wk1": 31, "wk2": 32}
DB_NAME = "marketplace"
WEB_PORT = 8000
LB_PORT = 80
STATS_PORT = 8404
QUEUES = "default,fulfilment,notifications,webhooks"
# Read-your-writes window of the hosts (production default 10 s): short, so the test sees it end.
RYW_WINDOW_SECONDS = 3
WEB_WORKERS = int(os.environ.get("MULTIHOST_WEB_WORKERS", "2"))
WEB_THREADS = int(os.environ.get("MULTIHOST_WEB_THREADS", "4"))
WORKER_CONCURRENCY = int(os.environ.get("MULTIHOST_WORKER_CONCURRENCY", "2"))
# A line per proxied request: epoch.ms, server, status, termination state, retries (+ = redispatched),
# total time, method, path. Parsed by `haproxy_log()`.
HAPROXY_LOG_FORMAT = "MH %Ts.%ms %s %ST %tsc %rc %Ta %HM %HU"
HAPROXY_LINE = re.compile(r"MH (?P<t>\d+\.\d+) (?P<server>\S+) (?P<status>-?\d+) (?P<term>\S+) (?P<retries>\+?\d+) "
                          r"(?P<ta>-?\d+) (?P<method>\S+) (?P<path>\S+)")


def ip(role: str) -> str:
    return f"{SUBNET}.{ADDRESSES[role]}"


def pg_dsn(role: str = "pg1", dbname: str = DB_NAME) -> str:
    return f"host={ip(role)} port=5432 user=postgres dbname={dbname} connect_timeout=5"


@dataclass
class HaproxyRequest:
    at: float
    server: str
    status: int
    termination: str
    retries: int
    redispatched: bool
    total_ms: int
    method: str
    path: str


class Cluster:
    """Build with `start()`, tear down with `stop()` (always, in a finally)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.workdir = Path(tempfile.mkdtemp(prefix=f"multihost-{run_id}-{os.getpid()}-", dir="/tmp"))
        self.workdir.chmod(0o755)  # postgres (the OS user) must reach its data folders below
        self.logs = self.workdir / "logs"
        self.logs.mkdir()
        self.lab: Lab | None = None
        self.secret_key = secrets.token_urlsafe(64)
        self.signing_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self._conns: dict[str, psycopg.Connection[Any]] = {}
        self._seeder: subprocess.Popen[str] | None = None
        self.timings: dict[str, float] = {}
        self.pg_bin = pg_bin() or Path("/usr/lib/postgresql/15/bin")
        self.pg_user = pg_os_user()

    # --- hosts ---------------------------------------------------------------------------------

    def host(self, role: str) -> Host:
        assert self.lab is not None
        return self.lab[role]

    def start(self) -> None:
        started = time.monotonic()
        self.lab = Lab(self.run_id, self.logs, subnet=SUBNET)
        for role, octet in ADDRESSES.items():
            self.lab.add_host(role, octet)
        log(f"lab {self.lab.prefix}: {len(ADDRESSES)} hosts on {SUBNET}.0/24, files in {self.workdir}")
        self._start_redis()
        self._start_primary()
        self._mark("hosts, redis, primary", started)
        t = time.monotonic()
        self.manage("migrate", "--noinput")
        self._mark("migrate", t)

    def start_replica_and_apps(self) -> None:
        """The replica (a base backup of the primary as it is now), then web, workers, beat, HAProxy."""
        t = time.monotonic()
        self._start_replica()
        self._mark("replica", t)
        t = time.monotonic()
        for role in ("web1", "web2"):
            self._start_web(role)
        for role in ("wk1", "wk2"):
            self._start_worker(role)
        self._start_beat("wk2")
        self._start_haproxy()
        self.wait_web(("web1", "web2"), seconds=120)
        self.wait_workers({"mh-wk1", "mh-wk2"}, seconds=120)
        self.wait_haproxy_up(("web1", "web2"), seconds=30)
        self._mark("web, workers, beat, haproxy", t)

    def _mark(self, what: str, since: float) -> None:
        self.timings[what] = round(time.monotonic() - since, 1)
        log(f"{what}: {self.timings[what]}s")

    def stop(self, *, keep_files: bool = False) -> list[str]:
        """Stop everything, delete the namespaces; returns leftovers (namespaces not removed)."""
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        self._conns.clear()
        if self._seeder is not None:
            with contextlib.suppress(Exception):
                self._seeder.stdin.close()  # type: ignore[union-attr]
                self._seeder.wait(timeout=10)
        left: list[str] = []
        if self.lab is not None:
            # The clients of Postgres and Redis first, then Postgres gently (fast shutdown, SIGINT)
            # so that it leaves no shared memory behind, then whatever is left.
            for role in ("lb", "client", "web1", "web2", "wk1", "wk2"):
                with contextlib.suppress(Exception):
                    self.host(role).kill()
            for role in ("pg2", "pg1"):
                with contextlib.suppress(Exception):
                    self.host(role).stop(graceful_seconds=15, sig=signal.SIGINT)
            left = self.lab.destroy()
        if keep_files:
            for data in ("pg1", "pg2", "redis"):
                shutil.rmtree(self.workdir / data, ignore_errors=True)
            log(f"logs kept in {self.logs}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return left

    # --- Redis and Postgres ---------------------------------------------------------------------

    @property
    def redis_url(self) -> str:
        return f"redis://{ip('redis')}:6379/0"

    def _start_redis(self) -> None:
        data = self.workdir / "redis"
        data.mkdir()
        self.host("redis").spawn(
            [redis_server_bin() or "redis-server", "--bind", ip("redis"), "--port", "6379", "--protected-mode", "no", "--save", "",
             "--appendonly", "no", "--dir", str(data), "--daemonize", "no", "--unixsocket", ""],
            log_name="redis.log")

    def _pg_folder(self, role: str) -> Path:
        folder = self.workdir / role
        folder.mkdir(mode=0o700)
        shutil.chown(folder, self.pg_user, self.pg_user)
        return folder

    def _pg_server(self, role: str, data: Path, *extra: str) -> None:
        # fsync off: this cluster never crashes (a killed host is never its Postgres), and the
        # test's seconds are better spent elsewhere. Commits still wait for their WAL write.
        settings = [f"listen_addresses={ip(role)}", "port=5432", "unix_socket_directories=", "fsync=off",
                    "max_connections=200", "wal_level=replica", "max_wal_senders=10", "wal_keep_size=512MB",
                    "log_min_messages=warning", "log_min_error_statement=panic", *extra]
        argv = [str(self.pg_bin / "postgres"), "-D", str(data)]
        for setting in settings:
            argv += ["-c", setting]
        self.host(role).spawn(argv, user=self.pg_user, log_name=f"{role}.log")

    def _start_primary(self) -> None:
        data = self._pg_folder("pg1")
        self.host("pg1").run([str(self.pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                              "--locale=C", "--no-sync"], user=self.pg_user)
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {SUBNET}.0/24 trust\nhost replication all {SUBNET}.0/24 trust\n")
        self._pg_server("pg1", data)
        self.wait_pg("pg1", dbname="postgres")
        self.sql("pg1", f'CREATE DATABASE "{DB_NAME}"', dbname="postgres")

    def _start_replica(self) -> None:
        data = self._pg_folder("pg2")
        self.host("pg2").run([str(self.pg_bin / "pg_basebackup"), "-h", ip("pg1"), "-p", "5432", "-U", "postgres", "-D", str(data),
                              "-X", "stream", "-R", "-c", "fast", "--no-sync"], user=self.pg_user)
        self._pg_server("pg2", data, "hot_standby=on", "hot_standby_feedback=on")
        self.wait_pg("pg2")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.sql("pg1", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] == 1:
                return
            time.sleep(0.2)
        raise RuntimeError("the replica did not start streaming in 30s")

    def connection(self, role: str, dbname: str = DB_NAME) -> psycopg.Connection[Any]:
        """An autocommit connection to pg1/pg2, opened from the client host (usable from any thread)."""
        key = f"{role}/{dbname}"
        conn = self._conns.get(key)
        if conn is None or conn.closed:
            conn = self.host("client").call(psycopg.connect, pg_dsn(role, dbname), autocommit=True)
            self._conns[key] = conn
        return conn

    def sql(self, role: str, query: str, params: Any = None, *, dbname: str = DB_NAME) -> list[tuple[Any, ...]]:
        cur = self.connection(role, dbname).execute(query, params)
        return cur.fetchall() if cur.description else []

    def wait_pg(self, role: str, *, dbname: str = DB_NAME, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.connection(role, dbname).execute("SELECT 1")
                return
            except psycopg.Error as exc:
                last = exc
                self._conns.pop(f"{role}/{dbname}", None)
                time.sleep(0.2)
        raise RuntimeError(f"{role} did not accept connections in {seconds:.0f}s: {last}\n{self.tail(f'{role}.log')}")

    # --- Django processes ----------------------------------------------------------------------

    def django_env(self, role: str, *, replicas: bool = True, **extra: str) -> dict[str, str]:
        """The environment of a web/worker host: a clean one (not the suite's), production-shaped."""
        data_dir = self.workdir / f"data-{role}"
        (data_dir / "static").mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "tests.multihost.settings",
            "DJANGO_SECRET_KEY": self.secret_key,
            "FULFILMENT_SIGNING_KEY": self.signing_key,
            "DJANGO_ALLOWED_HOSTS": ",".join(ip(r) for r in ("lb", "web1", "web2")),
            "PUBLIC_BASE_URL": f"https://{ip('lb')}",
            "DATABASE_URL": f"postgres://postgres@{ip('pg1')}:5432/{DB_NAME}",
            "DB_CONN_MAX_AGE": "60",
            "REDIS_URL": self.redis_url,
            "DATA_DIR": str(data_dir),
            "PAYMENT_PROVIDER": "simulated",
            "PAYMENTS_ALLOW_SIMULATED": "true",
            # HAProxy appends the address it saw to X-Forwarded-For (option forwardfor).
            "TRUSTED_PROXY_COUNT": "1",
            "LOG_LEVEL": "ERROR",  # 2,700 sold-out answers would each log a warning
            "SENTRY_DSN": "",
        }
        if replicas:
            env["DATABASE_REPLICA_URLS"] = f"postgres://postgres@{ip('pg2')}:5432/{DB_NAME}"
            env["DATABASE_READ_YOUR_WRITES_SECONDS"] = str(RYW_WINDOW_SECONDS)
        env.update(extra)
        return env

    def manage(self, *args: str) -> str:
        """`manage.py <args>` from the client host, against the primary only."""
        return self.host("client").run([str(VENV_BIN / "python"), str(ROOT / "manage.py"), *args],
                                       env=self.django_env("client", replicas=False), cwd=ROOT).stdout

    def seed(self, cmd: str, **args: Any) -> Any:
        """One command of the Django-side seeder (tests/multihost/djseed.py), started on first use
        on the client host and kept for the module: Django starts once."""
        if self._seeder is None or self._seeder.poll() is not None:
            argv = ["ip", "netns", "exec", self.host("client").netns, str(VENV_BIN / "python"), "-m", "tests.multihost.djseed"]
            with (self.logs / "seeder.log").open("ab") as err:
                self._seeder = subprocess.Popen(argv, env=self.django_env("client", replicas=False), cwd=ROOT, text=True,
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
            self._seeder_answer()
        assert self._seeder.stdin is not None
        self._seeder.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self._seeder.stdin.flush()
        answer = self._seeder_answer()
        if "error" in answer:
            raise RuntimeError(f"seeding {cmd} {args} failed: {answer['error']}\n{answer.get('traceback', '')}")
        return answer["ok"]

    def _seeder_answer(self) -> dict[str, Any]:
        assert self._seeder is not None and self._seeder.stdout is not None
        for line in self._seeder.stdout:
            if line.startswith(SEED_MARK):
                return json.loads(line[len(SEED_MARK):])
        raise RuntimeError(f"the seeder exited ({self._seeder.poll()})\n{self.tail('seeder.log')}")

    def _start_web(self, role: str) -> None:
        argv = [
            str(VENV_BIN / "gunicorn"), "config.wsgi:application", "--bind", f"{ip(role)}:{WEB_PORT}",
            "--worker-class", "gthread", "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS),
            "--backlog", "2048", "--keep-alive", "5", "--graceful-timeout", "10", "--timeout", "60",
            "--no-control-socket", "--worker-tmp-dir", "/dev/shm",
        ]
        self.host(role).spawn(argv, env=self.django_env(role), cwd=ROOT, log_name=f"{role}.log")

    def _start_worker(self, role: str) -> None:
        argv = [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", QUEUES, "-c", str(WORKER_CONCURRENCY),
                "--pool", "prefork", "-n", f"mh-{role}@%h", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        self.host(role).spawn(argv, env=self.django_env(role), cwd=ROOT, log_name=f"{role}.log")

    def _start_beat(self, role: str) -> None:
        argv = [str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel", "WARNING",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--schedule", str(self.workdir / f"beat-{role}.schedule")]
        self.host(role).spawn(argv, env=self.django_env(role), cwd=ROOT, log_name=f"beat-{role}.log")

    # --- HAProxy -------------------------------------------------------------------------------

    def _start_haproxy(self) -> None:
        servers = "\n".join(
            f"    server {role} {ip(role)}:{WEB_PORT} check inter 1s fall 5 rise 2 observe layer4 error-limit 1 on-error mark-down"
            for role in ("web1", "web2"))
        config = f"""
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    log-format "{HAPROXY_LOG_FORMAT}"
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout check 3s
    # One connection per request to the servers: no keep-alive race with gunicorn's idle timeout.
    option http-server-close
    option forwardfor
    # A connection refused, or a request sent to a server that died before answering, is tried
    # again, on the other server (redispatch). Replaying an unanswered request is safe only with
    # replay protection: the API's Idempotency-Key. A POST without one is retried only when its
    # connection failed (it never reached a server).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend api
    bind {ip('lb')}:{LB_PORT}
    # The TLS-terminating proxy of production: the app sees https and keeps its HTTPS redirect.
    http-request set-header X-Forwarded-Proto https
    http-request disable-l7-retry if METH_POST !{{ req.hdr(Idempotency-Key) -m found }}
    default_backend web

backend web
    balance roundrobin
    # A server that refuses a connection is marked down at once (observe layer4, on-error
    # mark-down); the health check (the API's /health/: database, Redis, a Celery worker) brings it
    # back, and takes a server out only after 5 failures in a row, so a loaded but live host stays.
    option httpchk
    http-check send meth GET uri /health/ ver HTTP/1.1 hdr Host {ip('lb')} hdr X-Forwarded-Proto https
    http-check expect status 200
    # On every answer, HAProxy's own 502/503 included: the server it went to (or <NOSRV>).
    http-after-response set-header X-Served-By %s
{servers}

frontend stats
    bind {ip('lb')}:{STATS_PORT}
    no log
    stats enable
    stats uri /stats
"""
        path = self.workdir / "haproxy.cfg"
        path.write_text(config)
        self.host("lb").run(["haproxy", "-c", "-q", "-f", str(path)])
        self.host("lb").spawn(["haproxy", "-db", "-f", str(path)], log_name="haproxy.log")

    def haproxy_stats(self) -> dict[str, dict[str, str]]:
        """HAProxy's per-server counters (stats CSV): req_tot, hrsp_5xx, wretr, wredis, status, ..."""
        def fetch() -> str:
            with urllib.request.urlopen(f"http://{ip('lb')}:{STATS_PORT}/stats;csv", timeout=5) as resp:
                return resp.read().decode()

        text = self.host("client").call(fetch).lstrip("# ")
        return {f"{row['pxname']}/{row['svname']}": row for row in csv.DictReader(io.StringIO(text))}

    def haproxy_log(self) -> list[HaproxyRequest]:
        rows = []
        for line in (self.logs / "haproxy.log").read_text(errors="replace").splitlines():
            m = HAPROXY_LINE.search(line)
            if m:
                rows.append(HaproxyRequest(at=float(m["t"]), server=m["server"], status=int(m["status"]),
                                           termination=m["term"], retries=int(m["retries"].lstrip("+")),
                                           redispatched=m["retries"].startswith("+"), total_ms=int(m["ta"]),
                                           method=m["method"], path=m["path"]))
        return rows

    # --- readiness -----------------------------------------------------------------------------

    def wait_web(self, roles: tuple[str, ...], *, seconds: float) -> None:
        def ready(role: str) -> bool:
            req = urllib.request.Request(f"http://{ip(role)}:{WEB_PORT}/api/v1/products/?page_size=1",
                                         headers={"X-Forwarded-Proto": "https"})
            with contextlib.suppress(OSError), urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status == 200
            return False

        deadline = time.monotonic() + seconds
        pending = set(roles)
        while pending and time.monotonic() < deadline:
            pending = {r for r in pending if not self.host("client").call(ready, r)}
            if pending:
                time.sleep(0.5)
        if pending:
            raise RuntimeError(f"web hosts {sorted(pending)} not serving in {seconds:.0f}s\n"
                               + "\n".join(self.tail(f"{r}.log") for r in sorted(pending)))

    def worker_names(self, timeout: float = 1.0) -> set[str]:
        def ping() -> set[str]:
            from celery import Celery

            app = Celery(broker=self.redis_url)
            try:
                return {name.split("@", 1)[0] for reply in (app.control.ping(timeout=timeout) or []) for name in reply}
            finally:
                app.close()

        return self.host("client").call(ping)

    def wait_workers(self, names: set[str], *, seconds: float, exactly: bool = False) -> set[str]:
        """Until every worker in `names` answers a ping (and no other, with `exactly`)."""
        deadline = time.monotonic() + seconds
        seen: set[str] = set()
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                seen = self.worker_names(timeout=2.0)
            if (seen == names) if exactly else (names <= seen):
                return seen
            time.sleep(0.5)
        if exactly:
            return seen
        raise RuntimeError(f"workers {sorted(names - seen)} did not answer in {seconds:.0f}s\n"
                           + "\n".join(self.tail(f"{n.removeprefix('mh-')}.log") for n in sorted(names - seen)))

    def wait_haproxy_up(self, roles: tuple[str, ...], *, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            stats = self.haproxy_stats()
            status = {r: stats.get(f"web/{r}", {}).get("status", "?") for r in roles}
            if all(s.startswith("UP") for s in status.values()):
                return
            time.sleep(0.5)
        raise RuntimeError(f"HAProxy does not see the web hosts up: {status}\n{self.tail('haproxy.log')}")

    def unacked_tasks(self) -> dict[str, str]:
        """Tasks delivered to a worker and not acknowledged yet (kombu's `unacked` hash): id -> name."""
        def read() -> dict[str, str]:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
            try:
                tasks = {}
                for raw in client.hvals("unacked"):
                    message = json.loads(raw)[0]
                    headers = message.get("headers") or {}
                    tasks[str(headers.get("id"))] = str(headers.get("task"))
                return tasks
            finally:
                client.close()

        return self.host("client").call(read)

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / name
        if not path.exists():
            return f"--- {name}: no log"
        return f"--- {name} (last {lines} lines)\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def replica_lag(self) -> dict[str, Any]:
        """Lag as the primary sees it (pg_stat_replication) and as the replica sees it."""
        rows = self.sql("pg1", """SELECT state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
                                         extract(epoch FROM replay_lag)::float8
                                  FROM pg_stat_replication""")
        state, behind_bytes, replay_lag = rows[0] if rows else (None, None, None)
        return {"state": state, "replay_behind_bytes": behind_bytes, "replay_lag_s": replay_lag}


@dataclass
class World:
    """What the tests get: the running cluster and the seeded shoppers."""

    cluster: Cluster
    exhibitor_id: int
    buyers: list[tuple[int, str]]  # (user id, X-Session-Token): the drop's buyers
    shoppers: list[tuple[int, str]]  # the same, for the replica checks (never buyers of the drop)
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    figures: dict[str, object] = field(default_factory=dict)
