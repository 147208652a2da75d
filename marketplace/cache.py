"""Django's Redis cache backend, with one redis-py client per connection pool instead of one per call.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache operation; its
constructor fills a case-insensitive table of about 250 response callbacks, which cost about
0.15 ms of CPU per cache call, three calls per authenticated API request (bench/cpu.py, issue 15).
A `redis.Redis` is thread-safe (it takes a connection from its pool per command), so one per pool
is kept and reused; the pools, their options and everything else stay Django's.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # Django's private attributes, which its type stubs do not declare
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:  # two threads may both build one: either is fine, both use the same pool
            if index not in django._pools:
                django._pools[index] = django._pool_class.from_url(django._servers[index], **django._pool_options)
            client = self._clients[index] = django._client(connection_pool=django._pools[index])
        return client


class RedisCache(DjangoRedisCache):
    """`django.core.cache.backends.redis.RedisCache` with the client above (settings.CACHES)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
