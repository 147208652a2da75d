"""`make run` from nothing: embedded Postgres and Redis, migrations, demo, gunicorn + worker + beat.

This is the fresh-machine path (no DATABASE_URL/REDIS_URL), run against a throwaway DATA_DIR with
the default ports (web 8000, Postgres 54329, Redis 63799) held by another program, as on a laptop
where something already listens there. It proves the command picks free ports and says which, the
stack serves the catalog under gunicorn to a hundred visitors at once, the admin's CSS loads,
/health/ sees the worker, and Ctrl-C stops everything it started. A port set explicitly and taken
stops the command at once with one line naming the variable.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORTS = {"PORT": 8000, "EMBEDDED_PG_PORT": 54329, "EMBEDDED_REDIS_PORT": 63799}
PORT_VARS = set(DEFAULT_PORTS)


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _held(port: int) -> Iterator[None]:
    """Another program listening on 127.0.0.1:port (or already someone's: taken either way)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        pass  # something else holds it already
    try:
        yield
    finally:
        sock.close()


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    drop = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "TEST_RUN_ID", "PUBLIC_BASE_URL", *PORT_VARS}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(DATA_DIR=str(tmp_path / "data"), WORKER_CONCURRENCY="1", **extra)
    return env


def _hundred_at_once(url: str) -> Counter:
    barrier = threading.Barrier(100)

    def get(_: int) -> int | str:
        barrier.wait(timeout=30)
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError as exc:  # a reset or refused connection is the failure this guards against
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=100) as pool:
        return Counter(pool.map(get, range(100)))


@pytest.mark.slow
@pytest.mark.integration
def test_run_serves_with_gunicorn_on_free_ports_when_the_defaults_are_taken(tmp_path):
    # Given a machine with no DATABASE_URL/REDIS_URL, where other programs hold the default ports
    env = _clean_env(tmp_path)
    log_path = tmp_path / "run.log"
    with ExitStack() as holds:
        for port in DEFAULT_PORTS.values():
            holds.enter_context(_held(port))
        log = log_path.open("w")
        # When `make run`'s command starts
        proc = subprocess.Popen([sys.executable, "-m", "marketplace.devservices", "run"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            banner = None
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None and not banner:
                banner = re.search(r"is serving on http://127\.0\.0\.1:(\d+)", log_path.read_text())
                time.sleep(1)
            output = log_path.read_text()
            assert banner, output[-4000:]
            port = int(banner.group(1))
            base = f"http://127.0.0.1:{port}"
            chosen = {
                var: int(m.group(1)) for var in PORT_VARS
                if (m := re.search(rf"port {DEFAULT_PORTS[var]} is taken by another program: .* uses 127\.0\.0\.1:(\d+) "
                                   rf"instead \(set {var} to choose\)", output))
            }
            # Then each taken default was replaced by a free port, and the banner shows the ones in use
            assert set(chosen) == PORT_VARS, output[-4000:]
            assert chosen["PORT"] == port
            assert f"Postgres 127.0.0.1:{chosen['EMBEDDED_PG_PORT']}/" in output
            assert f"Redis    127.0.0.1:{chosen['EMBEDDED_REDIS_PORT']}/" in output
            for path in ("/api/v1/products/", "/api/docs/", "/admin/", "/ops/", "/booth/", "/health/"):
                assert f"{base}{path}" in output
            assert "operator@expo.test" in output and "expo-demo-2026" in output
            assert f"PUBLIC_BASE_URL={base}" in output
            # and health sees database, redis and a worker consuming our queues
            health = _get(f"{base}/health/")
            assert health == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok", "celery": "ok"}})
            # and gunicorn serves it
            with urllib.request.urlopen(f"{base}/health/", timeout=5) as resp:
                assert resp.headers["Server"] == "gunicorn"
            # and the demo catalog is there, with the drop on sale
            status, body = _get(f"{base}/api/v1/products/?search=demo&page_size=100")
            assert status == 200
            assert any(p["slug"] == "demo-drop" and p["remaining"] == 25 for p in body["results"])
            # and a hundred visitors at once all get their page
            assert _hundred_at_once(f"{base}/api/v1/products/") == Counter({200: 100})
            # and the admin's stylesheets load (WhiteNoise, DEBUG on, no collectstatic)
            with urllib.request.urlopen(f"{base}/admin/login/", timeout=10) as resp:
                sheets = re.findall(r'href="(/static/[^"]+\.css)"', resp.read().decode())
            assert any("unfold" in sheet for sheet in sheets), sheets
            for sheet in sheets:
                with urllib.request.urlopen(f"{base}{sheet}", timeout=10) as resp:
                    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/css")
        finally:
            # And Ctrl-C stops web, worker, beat and the embedded services
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
            finally:
                log.close()
    assert proc.returncode == 0, log_path.read_text()[-4000:]
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, f"web port {port} still open after shutdown"
    # (the servers' own files, not their ports: another command may take a port freed a moment ago)
    data = tmp_path / "data"
    assert not (data / "postgres" / "postmaster.pid").exists(), "Postgres still running after shutdown"
    assert not (data / "redis" / "redis.pid").exists(), "Redis still running after shutdown"


@pytest.mark.integration
@pytest.mark.parametrize("variable", sorted(PORT_VARS))
def test_an_explicit_port_that_is_taken_stops_run_with_one_line_naming_it(tmp_path, variable):
    # Given the user set a port variable to a port another program holds
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        others = {var: str(_free_port()) for var in PORT_VARS - {variable}}  # so only this one is taken
        env = _clean_env(tmp_path, **others, **{variable: str(taken)})
        # When `make run`'s command starts
        result = subprocess.run([sys.executable, "-m", "marketplace.devservices", "run"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    # Then it stops at once, non-zero, with one line naming the variable, and starts nothing
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1, lines
    assert f"{variable}={taken}" in lines[0] and f"set {variable} to a free port" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "postgres").exists()
