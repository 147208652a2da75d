"""Postgres behind PgBouncer's transaction pooling (DATABASE_POOL_MODE=transaction).

Each transaction may run on a different server connection, so nothing may live in the session:
the DSN's `-c lock_timeout=... -c statement_timeout=...` is not forwarded (PgBouncer 1.18 refuses
the `options` startup parameter), and a session `SET` would be inherited by whichever client the
pooler hands that connection to next. Instead the first statement of every transaction Django
opens sets both for that transaction only (`set_config(name, value, true)` is `SET LOCAL`): one
more round trip per transaction (BEGIN, this, the transaction's own statements, COMMIT).

Statements outside a transaction (autocommit) get the role's defaults: set them once on the
server, `ALTER ROLE <app user> SET lock_timeout = '3s'; ALTER ROLE <app user> SET
statement_timeout = '30s';` (README "Scaling out").
"""

from typing import Any

from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def _set_autocommit(self, autocommit: bool) -> None:
        super()._set_autocommit(autocommit)
        parameters: dict[str, str] = self.settings_dict.get("TRANSACTION_PARAMETERS") or {}
        if autocommit or not parameters:
            return
        # Autocommit just went off: this statement opens the transaction the caller asked for.
        args: list[Any] = [item for pair in sorted(parameters.items()) for item in pair]
        sql = "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(parameters))
        with self.cursor() as cursor:
            cursor.execute(sql, args)
