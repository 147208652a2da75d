"""Read replicas: which query goes where, and read-your-writes.

The rule, safe by construction:
- Every write, and every query inside a transaction, goes to the primary (`default`). Inventory
  decisions (placement's claims, payment application, fulfilment, cancellation) run in
  transactions and never opt in, so they cannot read a replica.
- A read goes to a replica only inside `replica_reads()`: a safe-method request (GET, HEAD)
  whose view opted in with `@replica_reads_view` or `ReplicaReadsMixin` (the catalog, public
  certificates, the shopper's library, the operations console). Authentication and sessions are
  read before the scope opens, so they stay on the primary.
- Read-your-writes: a signed-in user's unsafe request that was not refused (any status but 4xx)
  pins that user to the primary for DATABASE_READ_YOUR_WRITES_SECONDS, and so does their order
  being fulfilled (the "order.fulfilled" event). A pinned user's opted-in reads use the primary.
  The pin is a Redis key (the Django cache) keyed by user id: every web host sees it at once,
  and it works for API clients that keep no cookies (X-Session-Token); a signed cookie would
  cost no round trip, but is only as good as the client that carries it back.
- Once the scope has written anything, its remaining reads go to the primary.
- A replica that fails (connection refused, gone) is skipped for REPLICA_RETRY_SECONDS in this
  process, and the view is run again on the primary.

With no replica configured (DATABASE_REPLICA_URLS empty) the router is not installed, the
middleware removes itself and the opt-in is one settings lookup: no query, no Redis round trip.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import structlog
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

from marketplace import events

logger = structlog.get_logger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PIN_KEY = "db:primary-pin:{user_id}"
REPLICA_RETRY_SECONDS = 30.0

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


@dataclass
class _Scope:
    alias: str
    wrote: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("marketplace_db_replica_scope", default=None)
_down_until: dict[str, float] = {}


def replicas() -> list[str]:
    """The replica aliases configured (settings.DATABASE_REPLICAS), in order."""
    return list(getattr(settings, "DATABASE_REPLICAS", None) or [])


class ReplicaRouter:
    """DATABASE_ROUTERS entry (installed only when DATABASE_REPLICAS is not empty)."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        scope = _scope.get()
        # Explicitly "default" outside a scope: an object read from a replica must not pull its
        # related rows from there later (Django would otherwise follow the instance's database).
        if scope is None or scope.wrote or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return scope.alias

    def db_for_write(self, model: Any, **hints: Any) -> str:
        scope = _scope.get()
        if scope is not None:
            scope.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return False if db in replicas() else None


def current_replica() -> str | None:
    """The replica the current scope reads from, or None (tests, logs)."""
    scope = _scope.get()
    return None if scope is None or scope.wrote else scope.alias


def _choose() -> str | None:
    now = time.monotonic()
    up = [alias for alias in replicas() if _down_until.get(alias, 0.0) <= now]
    return random.choice(up) if up else None


def is_pinned(*, user_id: Any) -> bool:
    """True while `user_id` is inside their read-your-writes window. Redis unreachable counts as
    pinned: the primary is always a correct answer."""
    try:
        return cache.get(PIN_KEY.format(user_id=user_id)) is not None
    except Exception:
        logger.warning("db_pin_check_failed", user_id=user_id, exc_info=True)
        return True


def pin_to_primary(*, user_id: Any) -> None:
    """Send `user_id`'s opted-in reads to the primary for DATABASE_READ_YOUR_WRITES_SECONDS.
    Idempotent (a repeat restarts the window); nothing without replicas. A Redis failure is logged
    and swallowed: the write already happened, and the check then fails safe (to the primary)."""
    if not replicas() or user_id is None:
        return
    try:
        cache.set(PIN_KEY.format(user_id=user_id), 1, timeout=settings.DATABASE_READ_YOUR_WRITES_SECONDS)
    except Exception:
        logger.warning("db_pin_set_failed", user_id=user_id, exc_info=True)


def _user_id(user: Any) -> Any:
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


@contextmanager
def replica_reads(*, user: Any = None) -> Iterator[str | None]:
    """Inside: reads outside a transaction go to a replica (yields its alias, or None when they
    stay on the primary: no replica up, `user` pinned, or already inside a scope). Writes and
    transactions are unaffected. Use it only around reads that may be a little behind."""
    if _scope.get() is not None or not replicas():
        yield current_replica()
        return
    alias = _choose()
    user_id = _user_id(user)
    if alias is None or (user_id is not None and is_pinned(user_id=user_id)):
        yield None
        return
    token = _scope.set(_Scope(alias))
    try:
        yield alias
    finally:
        _scope.reset(token)


def _replica_failed(exc: BaseException, alias: str | None) -> bool:
    return (alias is not None and isinstance(exc, (OperationalError, InterfaceError))
            and bool(getattr(connections[alias], "errors_occurred", False)))


def run_with_replica_reads(request: Any, call: Callable[[], R]) -> R:
    """Run `call` (a view's handler) with replica reads when `request` is a safe method; again on
    the primary if the replica failed (a read-only handler, so running it twice is harmless)."""
    if getattr(request, "method", None) not in SAFE_METHODS or not replicas():
        return call()
    with replica_reads(user=getattr(request, "user", None)) as alias:
        try:
            return call()
        except Exception as exc:
            if not _replica_failed(exc, alias):
                raise
            failed, error = cast(str, alias), exc
    _down_until[failed] = time.monotonic() + REPLICA_RETRY_SECONDS
    with suppress(DatabaseError):
        connections[failed].close()
    logger.warning("db_replica_failed", alias=failed, retry_seconds=REPLICA_RETRY_SECONDS, error=str(error))
    return call()


def replica_reads_view(view: F) -> F:
    """Decorator for a view function or a view's handler method (`def get(self, request, ...)`):
    its safe-method requests read from a replica (see the module docstring)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = args[0] if hasattr(args[0], "method") else args[1]
        return run_with_replica_reads(request, lambda: view(*args, **kwargs))

    return cast(F, wrapper)


class ReplicaReadsMixin:
    """For DRF generic views (put it first among the bases): GET reads from a replica."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        parent = super()
        return run_with_replica_reads(request, lambda: parent.get(request, *args, **kwargs))  # type: ignore[attr-defined]


class ReadYourWritesMiddleware:
    """Pins a signed-in user to the primary after their unsafe request, unless it was refused (4xx,
    which the services answer only after rolling back). After the view, so the user is known
    (DRF's token authentication included); before the response leaves, so their next request
    sees the pin. Not used without replicas."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not replicas():
            raise MiddlewareNotUsed()
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and not 400 <= response.status_code < 500:
            user_id = _user_id(getattr(request, "user", None))
            if user_id is not None:
                pin_to_primary(user_id=user_id)
        return response


@events.subscriber("order.fulfilled")
def pin_after_fulfilment(*, user_id: Any = None, **_: Any) -> None:
    """The shopper's goods just arrived (a worker wrote them): their library reads the primary."""
    pin_to_primary(user_id=user_id)
