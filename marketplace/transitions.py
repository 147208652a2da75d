"""The one transition helper every state machine goes through (DESIGN.md habit 3).

`transition()` locks the row (`SELECT ... FOR UPDATE`), returns a logged no-op when the row is
already in the target state, raises `InvalidState` when the source state is not allowed, writes
the state field (plus `also` fields) with `update_fields`, and records an audit row in the same
transaction. The audit row is an `AuditEvent` (actor, from, to, reason, payload) unless the caller
passes `record=` to write its own (orders write `OrderEvent` rows, which the operations console
reads). `before=` runs under the lock once the source state is checked and before anything is
written (releasing or re-claiming inventory), and may add to the audit payload.

Where a conditional `UPDATE ... WHERE status = X` is itself the concurrency guarantee (a claim),
the caller keeps it and calls `record_transition()` in the same transaction once the update
matched; `record_transitions()` does the same for a batch of rows.
"""

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.functional import Promise

from marketplace.errors import InvalidState
from marketplace.models import AuditEvent

logger = structlog.get_logger(__name__)

M = TypeVar("M", bound=Model)

Recorder = Callable[[Any, str, str, dict[str, Any]], None]
Effect = Callable[[Any], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Changed(Generic[M]):
    """What a transition did: `changed` is False for a repeated call (the logged no-op)."""

    changed: bool
    from_state: str
    to_state: str
    obj: M

    def __bool__(self) -> bool:
        return self.changed


def _state(value: Any) -> str:
    return "" if value is None else str(value)


def _actor(actor: Any) -> Any:
    # An anonymous user (no pk) is no actor.
    return actor if actor is not None and getattr(actor, "pk", None) is not None else None


def record_transition(obj: Model | type[Model], pk: Any = None, *, name: str, from_state: Any, to_state: Any,
                      actor: Any = None, reason: str = "", payload: Mapping[str, Any] | None = None) -> AuditEvent:
    """Write the audit row of a state change the caller already made (a matched conditional update).

    Call it inside the transaction that made the change. `obj` is the instance, or the model
    class with `pk`. Not idempotent by itself: call it only when the change happened.
    """
    model = obj if isinstance(obj, type) else type(obj)
    object_id = pk if isinstance(obj, type) else obj.pk
    return AuditEvent.objects.create(
        content_type=ContentType.objects.get_for_model(model), object_id=str(object_id), name=name,
        from_state=_state(from_state), to_state=_state(to_state), actor=_actor(actor),
        reason=str(reason)[:200], payload=dict(payload or {}),
    )


def record_transitions(model: type[Model], pks: Iterable[Any], *, name: str, from_state: Any, to_state: Any,
                       actor: Any = None, reason: str = "", payload: Mapping[str, Any] | None = None) -> int:
    """`record_transition` for a batch of rows that made the same change: one INSERT ... SELECT
    over the ids, whatever their number (a ballot's draw audits 100,000 entries: as ORM objects
    through bulk_create that took about a third of the draw, bench S8). Returns the rows written."""
    ids = [str(pk) for pk in pks]
    if not ids:
        return 0
    if any("," in pk for pk in ids):  # integer and UUID keys never hold one; the list travels joined by commas
        raise ValueError("record_transitions: a primary key containing a comma")
    content_type = ContentType.objects.get_for_model(model)
    who = _actor(actor)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {AuditEvent._meta.db_table}
                    (content_type_id, object_id, name, from_state, to_state, actor_id, reason, payload, created_at)
                SELECT %s, v.id, %s, %s, %s, %s, %s, %s::jsonb, %s
                FROM unnest(string_to_array(%s, ',')) WITH ORDINALITY AS v(id, n) ORDER BY v.n""",  # noqa: S608 - the model's table
            [content_type.pk, name, _state(from_state), _state(to_state), who.pk if who is not None else None,
             str(reason)[:200], json.dumps(dict(payload or {}), cls=DjangoJSONEncoder), timezone.now(), ",".join(ids)],
        )
        return cursor.rowcount


def transition(target: M | type[M], pk: Any = None, *, name: str, to: Any, allowed_from: Collection[Any],
               field: str = "status", actor: Any = None, reason: str = "", payload: Mapping[str, Any] | None = None,
               also: Mapping[str, Any] | None = None, record: Recorder | None = None, locked: bool = False,
               before: Effect | None = None, repeatable: bool = False,
               detail: str | Promise | Callable[[Any], str] | None = None) -> Changed[M]:
    """Move one row from a state in `allowed_from` to `to`, locked and audited.

    `target` is the model class with `pk`, or an instance (its pk is used). With `locked=True`
    the instance is one the caller already locked with `select_for_update` in the current
    transaction, and is used as it is (no second read).

    Returns `Changed(changed, from_state, to_state, obj)`. Idempotent: when the row is already in
    `to`, nothing is written and the repeat is logged (`changed` is False), unless `repeatable`
    (a partial refund: each one is its own audited change). Raises InvalidState (with `detail`, or
    `detail(obj)`, when given) when the current state is neither `to` nor in `allowed_from`;
    nothing is written then. `before(obj)` runs under the lock after that check and may raise to
    stop the transition (the caller's transaction rolls back what it did); what it returns joins
    the audit payload. `also` sets more fields in the same UPDATE; `record(obj, from, to, payload)`
    replaces the default AuditEvent row.
    """
    model: type[M] = target if isinstance(target, type) else type(target)
    if not isinstance(target, type):
        pk = target.pk
    # Inside the caller's transaction the lock and the writes already commit together; a
    # savepoint would only add two statements. Nothing is written before the state check.
    with nullcontext() if connection.in_atomic_block else transaction.atomic():
        obj: M = target if locked and not isinstance(target, type) else model._default_manager.select_for_update().get(pk=pk)
        current = _state(getattr(obj, field))
        wanted = _state(to)
        label = model._meta.label
        sources = {_state(state) for state in allowed_from}
        if current == wanted and not (repeatable and current in sources):
            logger.info("transition_repeated", model=label, object_id=str(pk), transition=name, state=current)
            return Changed(False, current, wanted, obj)
        if current not in sources:
            logger.info("transition_refused", model=label, object_id=str(pk), transition=name, state=current, to=wanted)
            raise InvalidState(detail(obj) if callable(detail) else detail)
        extra = before(obj) if before is not None else None
        payload = {**(payload or {}), **(extra or {})}
        setattr(obj, field, to)
        fields = [field]
        for name_, value in (also or {}).items():
            setattr(obj, name_, value)
            fields.append(name_)
        if any(f.name == "updated_at" for f in model._meta.concrete_fields) and "updated_at" not in fields:
            fields.append("updated_at")
        obj.save(update_fields=fields)
        if record is not None:
            record(obj, current, wanted, payload)
        else:
            record_transition(obj, name=name, from_state=current, to_state=wanted, actor=actor, reason=reason, payload=payload)
    logger.info("transition", model=label, object_id=str(pk), transition=name, from_state=current, to_state=wanted)
    # Callers holding their own instance (not locked here) see the new state too.
    if not isinstance(target, type) and target is not obj:
        setattr(target, field, to)
        for name_, value in (also or {}).items():
            setattr(target, name_, value)
    return Changed(True, current, wanted, obj)
