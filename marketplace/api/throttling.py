"""Request throttles for the API: DRF's anonymous / per-user rates, counted in Redis fixed windows.

DRF's own throttles keep every request's timestamp in one cache entry per client and rewrite it
on each call: two cache round trips and a pickled list that grows to the rate (1,200 floats per
busy shopper). These count in a Redis key per client and window instead: one pipelined INCR +
EXPIRE, a few bytes. The price is the fixed window's edge: a client may spend its whole rate at
the end of one window and again at the start of the next (at most twice the rate over any
window-long span), which is what such limits are for here (abuse, not metering).

Rates and scopes stay DRF's (`DEFAULT_THROTTLE_RATES`: "anon", "user"), and so do the cache keys'
identities (the client IP from X-Forwarded-For/REMOTE_ADDR as NUM_PROXIES says, or the user id).
Redis being down fails the request like any other cache error would (health says so).
"""

from functools import cache
from typing import Any

import redis
from django.conf import settings
from rest_framework import throttling
from rest_framework.request import Request


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


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
        count = pipe.execute()[0]
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
