"""DATABASES for one primary, its read replicas and the pooler in front (config/settings/base.py).

Pure functions of the environment's values, so the settings tests build them without a server.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SESSION, TRANSACTION = "session", "transaction"
POOL_MODES = (SESSION, TRANSACTION)
REPLICA_PREFIX = "replica_"
# Under PgBouncer's transaction pooling: django-prometheus' Postgres wrapper, setting the timeouts
# per transaction (marketplace/db/backend/base.py).
TRANSACTION_POOL_ENGINE = "marketplace.db.backend"


def replica_alias(index: int) -> str:
    return f"{REPLICA_PREFIX}{index}"


def database_settings(
    *, primary: dict[str, Any], replica_urls: list[str], parse_url: Any, pool_mode: str,
    lock_timeout_ms: int, statement_timeout_ms: int,
) -> dict[str, dict[str, Any]]:
    """DATABASES: `default` (the primary, from `primary`, already parsed) and `replica_<n>` per
    replica URL, each with the primary's options (engine, timeouts, pool, CONN_MAX_AGE) and
    `TEST: {"MIRROR": "default"}`, so a test run creates no replica database.

    pool_mode "session": the timeouts travel in the DSN (`options=-c lock_timeout=...`), as
    Postgres applies them to the whole session. pool_mode "transaction" (PgBouncer): PgBouncer
    1.18 refuses the `options` startup parameter (1.20+ accepts only the parameters it tracks, and
    `ignore_startup_parameters = options` drops it silently), and a session `SET` would leak to
    whichever client gets the server connection next. So the DSN carries none; the backend sets
    both with `set_config(..., is_local => true)` as the first statement of every transaction,
    server-side prepared statements stay off (psycopg's prepare_threshold None) and Django's
    server-side cursors (`.iterator()`, a WITH HOLD cursor across transactions) are disabled.
    Raises ImproperlyConfigured for an unknown pool mode or a replica URL that is not Postgres.
    """
    if pool_mode not in POOL_MODES:
        raise ImproperlyConfigured(f"DATABASE_POOL_MODE must be one of {', '.join(POOL_MODES)}, not {pool_mode!r}.")
    timeouts = {"lock_timeout": str(lock_timeout_ms), "statement_timeout": str(statement_timeout_ms)}
    default = copy.deepcopy(primary)
    options: dict[str, Any] = dict(default.get("OPTIONS") or {})
    if pool_mode == SESSION:
        options["options"] = " ".join(f"-c {name}={value}" for name, value in timeouts.items())
    else:
        default["ENGINE"] = TRANSACTION_POOL_ENGINE
        options.pop("options", None)
        options["prepare_threshold"] = None
        default["DISABLE_SERVER_SIDE_CURSORS"] = True
        default["TRANSACTION_PARAMETERS"] = timeouts
    default["OPTIONS"] = options
    databases = {"default": default}
    for index, url in enumerate(u for u in replica_urls if u.strip()):
        parsed = parse_url(url.strip())
        if "postgres" not in str(parsed.get("ENGINE", "")):
            raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS: {url!r} is not a Postgres URL.")
        replica = copy.deepcopy(default)
        for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
            replica[key] = parsed.get(key, replica.get(key))
        replica["TEST"] = {"MIRROR": "default"}
        databases[replica_alias(index)] = replica
    return databases


def replica_aliases(databases: dict[str, Any]) -> list[str]:
    """The replica aliases of DATABASES, in order (what settings.DATABASE_REPLICAS holds)."""
    return [alias for alias in databases if alias.startswith(REPLICA_PREFIX)]
