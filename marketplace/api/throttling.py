"""Request throttles for the API: DRF's anonymous / per-user rates, counted in Redis fixed windows.

DRF's own throttles keep every request's timestamp in one cache entry per client and rewrite it
on each call: two cache round trips and a pickled list that grows to the rate (1,200 floats per
busy shopper). These count in a Redis key per client and window instead: one pipelined INCR +
EXPIRE, a few bytes. The price is the fixed window's edge: a client may spend its whole rate at
the end of one window and again at the start of the next (at most twice the rate over any
window-long span), which is what such limits are for here (abuse, not metering).

Rates and scopes stay DRF's (`DEFAULT_THROTTLE_RATES`: "anon", "user"), and so do the cache keys'
identities (the client IP from X-Forwarded-For/REMOTE_ADDR as NUM_PROXIES says, or the user id).

A Redis error lets the request through (logged): the limit guards against abuse, and a catalog
page that needs no Redis should not fail because the counter could not be reached (bench S6 saw
one connection closed during Redis's handshake answer a 500). /health/ reports Redis down.
"""

from functools import cache
from typing import Any

import redis
import structlog
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework import throttling
from rest_framework.request import Request

logger = structlog.get_logger(__name__)


@cache
def _client() -> redis.Redis:
    # One try, short timeouts: a throttle that cannot count lets the request through (below)
    # rather than holding it for redis-py's default retries with backoff.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1,
                                retry=Retry(NoBackoff(), 0))


def _prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:throttle"


class FixedWindowMixin(throttling.SimpleRateThrottle):
    """`allow_request` / `wait` of a SimpleRateThrottle, counting in a Redis fixed window. Put it
    before the DRF throttle class it changes (which keeps providing `get_cache_key` and the rate)."""

    _wait = 0.0
    num_requests: int  # set by SimpleRateThrottle.__init__ from the rate
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"{_prefix()}:{ident}:{window}"
        pipe = _client().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, self.duration + 1)
        try:
            count = pipe.execute()[0]
        except redis.RedisError:
            logger.warning("throttle_unavailable", scope=self.scope, exc_info=True)
            return True
        self._wait = (window + 1) * self.duration - now
        return int(count) <= self.num_requests

    def wait(self) -> float | None:
        return max(self._wait, 0.0)


class AnonRateThrottle(FixedWindowMixin, throttling.AnonRateThrottle):
    """Anonymous callers, per client IP ("anon" rate)."""


class UserRateThrottle(FixedWindowMixin, throttling.UserRateThrottle):
    """Authenticated callers, per user ("user" rate).

    DRF's class also counts anonymous callers per IP, against the higher "user" rate, beside the
    anonymous throttle's own count of the same IP: a second round trip that can never refuse
    anything the "anon" rate (lower) would not. Anonymous callers are left to AnonRateThrottle.
    """

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
