"""`make run` from nothing: embedded Postgres and Redis, migrations, demo, web + worker + beat.

This is the fresh-machine path (no DATABASE_URL/REDIS_URL, nothing on the embedded ports), run
against a throwaway DATA_DIR. It proves the stack serves the catalog, /health/ sees the worker,
and Ctrl-C stops everything it started.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.slow
@pytest.mark.integration
def test_run_serves_the_demo_expo_on_embedded_services(tmp_path):
    # Given a machine where no DATABASE_URL/REDIS_URL is set
    port, pg_port, redis_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "TEST_RUN_ID"}}
    env.update(DATA_DIR=str(tmp_path / "data"), PORT=str(port), EMBEDDED_PG_PORT=str(pg_port),
               EMBEDDED_REDIS_PORT=str(redis_port), WORKER_CONCURRENCY="1")
    log = (tmp_path / "run.log").open("w")
    # When `make run`'s command starts
    proc = subprocess.Popen([sys.executable, "-m", "marketplace.devservices", "run"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health: tuple[int, dict] = (0, {})
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = _get(f"http://127.0.0.1:{port}/health/")
            except OSError:
                health = (0, {})
            if health[0] == 200:
                break
            time.sleep(1)
        output = (tmp_path / "run.log").read_text()
        # Then it serves: health sees database, redis and a worker consuming our queues
        assert health[0] == 200, f"health={health}\n{output[-4000:]}"
        assert health[1]["checks"] == {"database": "ok", "redis": "ok", "celery": "ok"}
        # and the demo catalog is there, with the drop on sale
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/products/?search=demo&page_size=100")
        assert status == 200
        assert any(p["slug"] == "demo-drop" and p["remaining"] == 25 for p in body["results"])
        assert "operator@expo.test" in output  # the banner names the demo accounts
    finally:
        # And Ctrl-C stops web, worker, beat and the embedded services
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-4000:]
    for p in (port, pg_port, redis_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still open after shutdown"
