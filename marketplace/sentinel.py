"""Redis behind Sentinel: the broker and the cache find the current master through the sentinels.

Settings only (config/settings/base.py applies `sentinel_settings` when REDIS_SENTINELS is set):
- Celery (kombu's sentinel transport): CELERY_BROKER_URL `sentinel://[:pw@]host:port/db;...`
  with the transport option `master_name` (and `sentinel_kwargs` when the sentinels want a
  password).
- The Django cache (Django's own RedisCache, no django-redis): `SentinelPool` as its pool class,
  which asks the sentinels for the master (and again after a failover) through redis-py's
  `SentinelConnectionPool`. Django splits LOCATION on "," and ";", so the sentinels travel in
  OPTIONS and LOCATION names only the master and the database.

The master's password and database number come from REDIS_URL (`redis://:pw@any-host/0`; its
host is then unused). Nothing here connects: a pool reaches the sentinels on its first command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from redis.sentinel import Sentinel, SentinelConnectionPool

DEFAULT_SENTINEL_PORT = 26379


def parse_sentinels(hosts: list[str]) -> list[tuple[str, int]]:
    """["host:port", "host"] -> [("host", port), ("host", 26379)]. Raises ImproperlyConfigured."""
    parsed: list[tuple[str, int]] = []
    for raw in (h.strip() for h in hosts):
        if not raw:
            continue
        if raw.startswith("["):  # [v6 address]:port
            host, _, rest = raw[1:].partition("]")
            port = rest.removeprefix(":")
        elif raw.count(":") == 1:
            host, _, port = raw.partition(":")
        else:
            host, port = raw, ""
        try:
            parsed.append((host, int(port) if port else DEFAULT_SENTINEL_PORT))
        except ValueError as exc:
            raise ImproperlyConfigured(f"REDIS_SENTINELS: {raw!r} is not host:port.") from exc
    if not parsed:
        raise ImproperlyConfigured("REDIS_SENTINELS names no sentinel.")
    return parsed


@dataclass(frozen=True)
class SentinelSettings:
    broker_url: str
    broker_transport_options: dict[str, Any]
    cache_location: str
    cache_options: dict[str, Any]


def sentinel_settings(*, sentinels: list[str], master: str, redis_url: str, sentinel_password: str = "") -> SentinelSettings:
    """What config/settings/base.py sets for REDIS_SENTINELS (see the module docstring)."""
    if not master:
        raise ImproperlyConfigured("REDIS_SENTINEL_MASTER must name the monitored master.")
    nodes = parse_sentinels(sentinels)
    url = urlsplit(redis_url)
    db = (url.path or "/0").lstrip("/") or "0"
    password = unquote(url.password) if url.password else ""
    auth = f":{quote(password, safe='')}@" if password else ""
    broker_url = ";".join(f"sentinel://{auth}{_netloc(host, port)}/{db}" for host, port in nodes)
    transport: dict[str, Any] = {"master_name": master}
    sentinel_kwargs = {"password": sentinel_password} if sentinel_password else {}
    if sentinel_kwargs:
        transport["sentinel_kwargs"] = sentinel_kwargs
    options: dict[str, Any] = {
        "pool_class": "marketplace.sentinel.SentinelPool",
        "sentinels": nodes,
        "sentinel_kwargs": sentinel_kwargs,
    }
    return SentinelSettings(broker_url=broker_url, broker_transport_options=transport,
                            cache_location=f"sentinel://{auth}{quote(master, safe='')}/{db}", cache_options=options)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class SentinelPool:
    """Django RedisCache's `pool_class`: `from_url("sentinel://[:pw@]master/db", sentinels=...)`
    returns redis-py's SentinelConnectionPool for that master."""

    @classmethod
    def from_url(cls, url: str, *, sentinels: list[tuple[str, int]], sentinel_kwargs: dict[str, Any] | None = None,
                 **kwargs: Any) -> SentinelConnectionPool:
        parts = urlsplit(url)
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ImproperlyConfigured(f"SentinelPool expects sentinel://[:password@]master/db, not {url!r}.")
        connection: dict[str, Any] = {"db": int((parts.path or "/0").lstrip("/") or 0)}
        if parts.password:
            connection["password"] = unquote(parts.password)
        manager = Sentinel([tuple(node) for node in sentinels], sentinel_kwargs=sentinel_kwargs or None)
        return SentinelConnectionPool(unquote(parts.netloc.rpartition("@")[2]), manager, **connection, **kwargs)


def redis_from_url(url: str, *, transport_options: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """A redis-py client for a `redis://` URL, or for a kombu-style `sentinel://h:p/db;sentinel://...`
    broker URL, whose master is `transport_options["master_name"]` (CELERY_BROKER_TRANSPORT_OPTIONS).
    For code that talks to the broker's Redis directly (the operations console's queue depths).
    Raises ImproperlyConfigured for a sentinel URL without a master name."""
    import redis

    if not url.startswith("sentinel://"):
        return redis.Redis.from_url(url, **kwargs)
    master_name = str((transport_options or {}).get("master_name") or "")
    if not master_name:
        raise ImproperlyConfigured("A sentinel:// URL needs the master's name (transport option master_name).")
    first = urlsplit(url.split(";")[0])
    nodes = [(p.hostname or "", p.port or DEFAULT_SENTINEL_PORT) for p in (urlsplit(u) for u in url.split(";") if u)]
    connection: dict[str, Any] = {"db": int((first.path or "/0").lstrip("/") or 0), **kwargs}
    if first.password:
        connection["password"] = unquote(first.password)
    sentinel_timeouts = {k: v for k, v in kwargs.items() if k in ("socket_timeout", "socket_connect_timeout")}
    return Sentinel(nodes, sentinel_kwargs=sentinel_timeouts or None).master_for(master_name, **connection)
