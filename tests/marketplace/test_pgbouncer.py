"""PgBouncer in transaction pooling mode in front of the test Postgres (issue 16).

The application's connection goes through a PgBouncer whose pool has ONE server connection, and a
second client ("the neighbour") shares that same server connection between the application's
transactions. Whatever session state the application left behind (a `SET`, a prepared statement,
an open cursor) the neighbour would see; the test checks it sees none, after a purchase, its
payment, fulfilment, and a cancelled checkout, all through the pooler. It also checks why the
session DSN cannot be used there: PgBouncer 1.18 (Debian 12) refuses its `options` parameter.

Needs Debian's pgbouncer (`apt-get install -y pgbouncer`); skipped, saying so, without it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections, transaction
from django.db.utils import load_backend

from apps.catalog.models import Edition
from marketplace.db.config import database_settings
from tests.marketplace.purchase_flow import buy, catalog, checkout_and_cancel, install_tasks, new_shopper_client

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PGBOUNCER = shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer",) if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Bouncer:
    port: int
    dbname: str
    user: str

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, dbname=self.dbname, user=self.user, autocommit=True,
                               connect_timeout=5, prepare_threshold=None, **kwargs)


@pytest.fixture
def bouncer(transactional_db: None) -> Iterator[Bouncer]:
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed: `apt-get install -y pgbouncer` (Debian) runs this test")
    primary = connections["default"].settings_dict
    user = primary["USER"] or "postgres"
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-test-"))
    folder.chmod(0o755)
    (folder / "users.txt").write_text(f'"{user}" "{primary["PASSWORD"] or ""}"\n')
    (folder / "pgbouncer.ini").write_text(f"""[databases]
* = host={primary["HOST"] or "127.0.0.1"} port={primary["PORT"] or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = {"md5" if primary["PASSWORD"] else "trust"}
auth_file = {folder / "users.txt"}
pool_mode = transaction
; one server connection: every client's transactions take turns on it
default_pool_size = 1
max_client_conn = 20
; nothing resets the server connection between clients: leftovers would show
server_reset_query =
""")
    for path in folder.iterdir():
        path.chmod(0o644)
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        command[1:1] = ["-u", next(u for u in ("postgres", "nobody") if _user_exists(u))]
    log = (folder / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"pgbouncer did not start: {(folder / 'pgbouncer.log').read_text()}")
            time.sleep(0.05)
        yield Bouncer(port=port, dbname=primary["NAME"], user=user)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def through_pgbouncer(bouncer: Bouncer, settings: Any) -> Iterator[Bouncer]:
    """`default` goes through PgBouncer with the settings DATABASE_POOL_MODE=transaction builds."""
    original = connections["default"]
    primary = dict(original.settings_dict)
    built = database_settings(primary={**primary, "HOST": "127.0.0.1", "PORT": bouncer.port}, replica_urls=[],
                              parse_url=None, pool_mode="transaction",
                              lock_timeout_ms=3000, statement_timeout_ms=30000)["default"]
    wrapper = load_backend(built["ENGINE"]).DatabaseWrapper(built, "default")
    connections["default"] = wrapper
    try:
        yield bouncer
    finally:
        wrapper.close()
        connections["default"] = original


def _session_state(neighbour: psycopg.Connection[Any]) -> dict[str, Any]:
    """What the neighbour finds on the one server connection: settings, prepared statements, cursors."""
    row = neighbour.execute("""SELECT current_setting('lock_timeout'), current_setting('statement_timeout'),
                                      (SELECT count(*) FROM pg_prepared_statements), (SELECT count(*) FROM pg_cursors),
                                      pg_backend_pid()""").fetchone()
    assert row is not None
    return {"lock_timeout": row[0], "statement_timeout": row[1], "prepared": row[2], "cursors": row[3], "pid": row[4]}


def test_the_session_dsn_options_are_refused_by_pgbouncer(bouncer: Bouncer) -> None:
    """Why DATABASE_POOL_MODE=transaction drops them from the DSN (marketplace/db/config.py)."""
    with pytest.raises(psycopg.OperationalError, match="options"):
        bouncer.connect(options="-c lock_timeout=3000 -c statement_timeout=30000").close()


def test_a_purchase_payment_fulfilment_and_cancel_leave_no_session_state(
        through_pgbouncer: Bouncer, monkeypatch: Any, settings: Any) -> None:
    tasks = install_tasks(monkeypatch, settings)
    neighbour = through_pgbouncer.connect()
    try:
        clean = _session_state(neighbour)
        assert clean["lock_timeout"] == "0" and clean["prepared"] == 0 and clean["cursors"] == 0, clean
        # The harness does share one server connection: a session SET made by the application is
        # what the neighbour then finds (the leak the transaction mode must never produce) ...
        with connections["default"].cursor() as cursor:
            cursor.execute("SET lock_timeout = '7s'")
            cursor.execute("SELECT pg_backend_pid()")
            app_pid = cursor.fetchone()[0]
        leaked = _session_state(neighbour)
        assert (leaked["lock_timeout"], leaked["pid"]) == ("7s", app_pid), leaked
        with connections["default"].cursor() as cursor:
            cursor.execute("RESET lock_timeout")

        # ... and inside the application's transactions the timeouts hold (SET LOCAL)
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            assert cursor.fetchone() == ("3s", "30s")
        assert _session_state(neighbour)["lock_timeout"] == "0"

        # When a shopper buys, pays, is fulfilled, reads the library and certificate, and cancels a checkout
        product = catalog(edition_size=4)
        _shopper, client = new_shopper_client()
        states = []
        for _ in range(2):
            buy(client, product, tasks)
            states.append(_session_state(neighbour))
            checkout_and_cancel(client, product)
            states.append(_session_state(neighbour))
        # and a read streams rows outside any transaction with .iterator(): were server-side cursors
        # not disabled, a cursor WITH HOLD would stay open on the shared server connection
        editions = Edition.objects.filter(product=product).order_by("pk").iterator(chunk_size=1)
        first = next(editions)
        states.append(_session_state(neighbour))
        assert [first.pk, *(e.pk for e in editions)] == list(Edition.objects.filter(product=product)
                                                             .order_by("pk").values_list("pk", flat=True))
    finally:
        neighbour.close()
    # Then the neighbour, on the same server connection, never found anything the application left
    assert all(s["pid"] == clean["pid"] for s in states), states
    assert all((s["lock_timeout"], s["statement_timeout"], s["prepared"], s["cursors"]) ==
               (clean["lock_timeout"], clean["statement_timeout"], 0, 0) for s in states), states
    assert "fulfilment.fulfil_order" in tasks.ran and "payments.webhook_process" in tasks.ran
