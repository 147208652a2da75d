"""Domain events: how a lower layer tells a higher one what happened, without importing it.

    # apps/payments/services/... (the emitter imports only the kernel)
    events.emit("payment.succeeded", order_id=str(order.pk), payment_id=payment.pk)

    # apps/fulfilment/subscribers.py (imported by FulfilmentConfig.ready)
    @events.subscriber("payment.succeeded")
    def schedule_fulfilment(*, order_id: str, **_: Any) -> None: ...

Two moments, chosen by the subscriber:
- `after_commit` (the default): the subscriber runs once the emitting transaction commits, in the
  emitting process (immediately when no transaction is open). For anything that leaves the
  database: enqueueing tasks, calling out. Delivery is at most once in-process; what must survive
  a crash between commit and dispatch is re-driven by the owner's beat sweep, as every
  after-commit enqueue already is (fulfilment's sweep, payments' reconcile, the outbox sweep).
- `in_transaction`: the subscriber runs at once, inside the emitter's transaction, and must only
  write rows (never call out). For the notifications outbox: the message row is written
  atomically with the fact it announces, so a crash can neither lose it nor send it for a fact
  that rolled back.

Why a small registry rather than Django signals: event names are plain strings that read like the
domain ("refund.succeeded"), payloads are keyword arguments checked by the subscriber's own
signature, the after-commit timing is built in instead of remembered at every send, and a failing
after-commit subscriber is logged without stopping the others (a signal's `send` would raise into
the emitter after its commit). Subscribers are registered at import; `AppConfig.ready` imports
each app's `subscribers` module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal

import structlog
from django.db import transaction

logger = structlog.get_logger(__name__)

When = Literal["after_commit", "in_transaction"]
Subscriber = Callable[..., None]

_subscribers: dict[str, list[tuple[When, Subscriber]]] = defaultdict(list)


def subscriber(name: str, *, when: When = "after_commit") -> Callable[[Subscriber], Subscriber]:
    """Register the decorated function for event `name`. Registering the same function twice
    (a module imported again) is ignored."""

    def register(fn: Subscriber) -> Subscriber:
        key = (fn.__module__, fn.__qualname__)
        if not any((f.__module__, f.__qualname__) == key for _, f in _subscribers[name]):
            _subscribers[name].append((when, fn))
        return fn

    return register


def emit(name: str, **payload: Any) -> None:
    """Tell the subscribers of `name`. In-transaction subscribers run now (their exceptions
    propagate: they roll the emitter back); after-commit ones once the transaction commits (their
    exceptions are logged). Payload values should be plain ids and strings."""
    for when, fn in list(_subscribers.get(name, ())):
        if when == "in_transaction":
            fn(**payload)
        else:
            transaction.on_commit(_guarded(name, fn, payload))


def emit_many(name: str, payloads: Sequence[dict[str, Any]]) -> None:
    """`emit(name, **payload)` for each payload, in order, with one difference: an in-transaction
    subscriber that has a `many` attribute (a function taking `payloads=`) gets them all in one call,
    so it can write the rows of many events in a few statements (the fulfilment of a batch of
    orders: one outbox write and one send task for the batch, not one per order)."""
    if not payloads:
        return
    for when, fn in list(_subscribers.get(name, ())):
        many = getattr(fn, "many", None)
        if when == "in_transaction" and many is not None:
            many(payloads=list(payloads))
            continue
        for payload in payloads:
            if when == "in_transaction":
                fn(**payload)
            else:
                transaction.on_commit(_guarded(name, fn, payload))


def _guarded(name: str, fn: Subscriber, payload: dict[str, Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn(**payload)
        except Exception:  # one failing subscriber must not stop the others; its sweep catches up
            logger.exception("event_subscriber_failed", domain_event=name, subscriber=f"{fn.__module__}.{fn.__qualname__}")

    return run


def subscribers_of(name: str) -> list[str]:
    """Dotted names of the subscribers of `name` (for tests and the README's event table)."""
    return [f"{fn.__module__}.{fn.__qualname__}" for _, fn in _subscribers.get(name, ())]
