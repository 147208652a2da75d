"""`Idempotency-Key` for writes that create things (API.md "Conventions"; DESIGN.md habit 6).

Decorate a DRF view's handler with `@idempotent`:

- no header: the request runs as usual;
- a new key: a record is inserted *in flight* in its own committed transaction (the unique
  constraint on (user, key) decides which of two concurrent requests does the work), the view
  runs, and its response (status and body) is stored;
- the same key and the same request again: the stored response is replayed, same status and body;
- the same key with another request (method, path or body): 422 `idempotency_key_reused`;
- the same key while the first request is still running: 409 `idempotency_key_in_use`.

Keys are per user and kept `TTL` (24 hours); `idempotency_prune` deletes expired records (beat).
A response of 500 or an unhandled exception stores nothing: the record is dropped so the client may
retry with the same key. An in-flight record older than `IN_FLIGHT_TIMEOUT` (its process died) is
taken over by the next request with that key.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidIdempotencyKey
from marketplace.models import IdempotencyRecord, IdempotencyState

logger = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"


def request_fingerprint(request: Request) -> str:
    """sha256 of method, path and the canonical JSON of the body (key order and spacing ignored)."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def idempotency_begin(*, user: Any, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Claim `key` for `user`. Returns None when this request owns the key and must do the work,
    or the existing record (in flight or done) when it does not.

    Must run outside any transaction so the claim is committed before the work starts. Raises
    IdempotencyKeyReused when the key is known with another fingerprint.
    """
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fingerprint, created_at=now,
                                                 expires_at=now + TTL)
            return None
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:  # pruned between our insert and read: try once more
            continue
        if existing.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if existing.state == IdempotencyState.IN_FLIGHT:
            # A conditional update, so of two requests finding an abandoned record only one takes it.
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, state=IdempotencyState.IN_FLIGHT, created_at__lt=now - IN_FLIGHT_TIMEOUT,
            ).update(created_at=now, expires_at=now + TTL)
            if taken:
                logger.warning("idempotency_key_taken_over", key=key, user_id=user.pk)
                return None
            raise IdempotencyKeyInUse()
        return existing
    raise IdempotencyKeyInUse()


def idempotency_complete(*, user: Any, key: str, status: int, body: Any) -> None:
    """Store the response given for the key (replayed to later requests with the same key)."""
    IdempotencyRecord.objects.filter(user=user, key=key, state=IdempotencyState.IN_FLIGHT).update(
        state=IdempotencyState.DONE, response_status=status, response_body=body, completed_at=timezone.now(),
    )


def idempotency_abandon(*, user: Any, key: str) -> None:
    """Forget an in-flight key whose request failed unexpectedly, so a retry can run again."""
    IdempotencyRecord.objects.filter(user=user, key=key, state=IdempotencyState.IN_FLIGHT).delete()


def idempotency_prune(*, now: Any = None) -> int:
    """Delete expired records. Idempotent. Returns how many were deleted."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    response[REPLAY_HEADER] = "true"
    return response


Handler = Callable[..., Response]


def idempotent(handler: Handler) -> Handler:
    """Decorator for a DRF view handler (e.g. `post`) of an authenticated view."""

    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidIdempotencyKey()
        existing = idempotency_begin(user=request.user, key=key, fingerprint=request_fingerprint(request))
        if existing is not None:
            return _replay(existing)
        try:
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:  # DRF's own handler turns it into the response we store
            try:
                response = view.handle_exception(exc)
            except Exception:
                idempotency_abandon(user=request.user, key=key)
                raise
        if response.status_code >= 500:
            idempotency_abandon(user=request.user, key=key)
        else:
            idempotency_complete(user=request.user, key=key, status=response.status_code, body=response.data)
        return response

    return wrapper
