"""The database beyond one server: read replicas behind a router, and PgBouncer's transaction pooling.

- `config`: builds DATABASES from DATABASE_URL, DATABASE_REPLICA_URLS and DATABASE_POOL_MODE
  (called by config/settings/base.py).
- `routing`: the router (writes and transactions on the primary; reads on a replica only inside an
  explicit opt-in), the opt-in for views, and read-your-writes pinning.
- `backend`: the Postgres backend used under PgBouncer's transaction pooling (timeouts set per
  transaction, since session settings do not survive the pooler).
"""
