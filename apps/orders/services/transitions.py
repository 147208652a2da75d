"""The order state machine: pay (and pay late), cancel, expire, fulfil, refund marks, audit notes.

Every transition goes through `_transition`, which runs the kernel's one transition helper
(`marketplace.transitions.transition`) on the table `ORDER_TRANSITIONS`: lock the order row,
return quietly if the order is already in the target state (a repeated call is a logged no-op),
raise InvalidState if the source state is wrong, write with `update_fields` and an OrderEvent
(the order's audit trail, read by the operations console), all in one transaction.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog import services as inventory
from apps.catalog.models import ProductKind
from apps.orders.models import ORDER_TRANSITIONS, Order, OrderEvent, OrderLineEdition, OrderStatus
from apps.orders.services.quotas import _claim_quotas, _release_quotas
from apps.vouchers import services as vouchers
from marketplace.errors import InvalidState
from marketplace.transitions import transition


def _refusal(target: str) -> Callable[[Order], str]:
    def detail(order: Order) -> str:
        return str(_("Order %(number)s is %(status)s; it cannot become %(target)s.")
                   % {"number": order.number, "status": order.get_status_display().lower(),
                      "target": OrderStatus(target).label})
    return detail


def _transition(*, order_id: Any, name: str, actor: Any = None, note: str = "",
                payload: dict[str, Any] | None = None, repeatable: bool = False,
                effect: Callable[[Order], Mapping[str, Any] | None] | None = None, now: datetime | None = None) -> Order:
    """Lock, check, transition, save, audit; see the module docstring. `effect` runs under the lock
    before the state changes (inventory release or conversion) and may add to the event payload."""
    sources, target = ORDER_TRANSITIONS[name]

    def record(order: Order, from_status: str, to_status: str, event_payload: dict[str, Any]) -> None:
        OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, actor=actor, note=note,
                                  payload=event_payload)

    # A savepoint of its own: an effect that fails half-way (a re-claim that finds a serial gone)
    # rolls back what it claimed even when the caller catches the error and goes on.
    with transaction.atomic():
        changed = transition(Order, order_id, name=name, to=target, allowed_from=sources, actor=actor, payload=payload,
                             also={"status_changed_at": now or timezone.now()}, record=record, before=effect,
                             repeatable=repeatable, detail=_refusal(target))
    return changed.obj


def _release_holds(order: Order) -> dict[str, Any]:
    """Give back everything the order holds. Runs under the order's lock, once per order (the
    caller moves the order out of pending_payment in the same transaction)."""
    lines = list(order.lines.all())
    links = list(OrderLineEdition.objects.filter(line__order=order).values_list("id", "edition_id", "edition__serial"))
    slots: Counter[int] = Counter()
    stock: Counter[int] = Counter()
    quotas: Counter[int] = Counter()
    for line in lines:
        if line.slot_id is not None:
            slots[line.slot_id] += line.quantity
        if line.stock_held:
            stock[line.product_id] += line.stock_held
        if line.quota_counted:
            quotas[line.product_id] += line.quota_counted
    inventory.inventory_release(edition_ids=[edition_id for _, edition_id, _ in links], slots=dict(slots), stock=dict(stock))
    _release_quotas(user_id=order.user_id, counted=dict(quotas))
    if links:
        OrderLineEdition.objects.filter(id__in=[link_id for link_id, _, _ in links]).delete()
    product_ids = [line.product_id for line in lines]
    slot_ids = list(slots)
    transaction.on_commit(lambda: inventory.inventory_clear_flags(product_ids=product_ids, slot_ids=slot_ids))
    # A still-valid voucher goes back to the shopper (API.md "Vouchers"), under the order's lock.
    voucher = vouchers.voucher_release_for_order(order_id=order.pk)
    return {**({"released_serials": sorted(serial for _, _, serial in links)} if links else {}), **voucher}


def order_cancel(*, order_id: Any, actor: Any = None, note: str = "cancelled",
                 under_lock: Callable[[Order], None] | None = None) -> Order:
    """Cancel a pending order, releasing its hold. The order transition only: the provider's
    payment is cancelled first by payments (`apps.payments.services.orders.order_cancel_with_payment`,
    what the API, the admin and the console call), which passes `under_lock` to check, under the
    order's lock and before anything changes, that no attempt can still take money (it raises to
    roll back).

    Raises Order.DoesNotExist for an unknown id; InvalidState unless pending payment; what
    `under_lock` raises. Idempotent: cancelling a cancelled order changes nothing.
    """

    def effect(order: Order) -> dict[str, Any]:
        if under_lock is not None:
            under_lock(order)
        return _release_holds(order)

    return _transition(order_id=order_id, name="cancel", actor=actor, note=note, effect=effect)


def order_expire(*, order_id: Any, now: datetime | None = None,
                 under_lock: Callable[[Order], None] | None = None) -> Order:
    """Expire a pending order whose hold ran out, releasing the hold.

    Raises InvalidState if the order is not pending or not due yet, and what `under_lock` raises
    (run under the order's lock before anything changes: the payments-side sweep,
    `apps.payments.services.orders.orders_expire_due`, checks there that no attempt is still open).
    Idempotent. The provider is never called here.
    """
    now = now or timezone.now()

    def effect(order: Order) -> dict[str, Any]:
        if order.expires_at > now:
            raise InvalidState(_("Order %(number)s holds its inventory until %(time)s.")
                               % {"number": order.number, "time": order.expires_at.isoformat()})
        if under_lock is not None:
            under_lock(order)
        return _release_holds(order)

    return _transition(order_id=order_id, name="expire", note="hold expired", effect=effect, now=now)


def _convert_holds(order: Order) -> dict[str, Any]:
    edition_ids = list(OrderLineEdition.objects.filter(line__order=order).values_list("edition_id", flat=True))
    inventory.inventory_mark_sold(edition_ids=edition_ids)
    vouchers.voucher_mark_used(order_id=order.pk)
    return {}


def order_mark_paid(*, order_id: Any, actor: Any = None, payload: dict[str, Any] | None = None) -> Order:
    """Payment succeeded: the order is paid and its held editions become sold (slots, stock and
    quotas stay taken). Raises InvalidState unless pending payment. Idempotent."""
    return _transition(order_id=order_id, name="pay", actor=actor, note="payment succeeded", payload=payload,
                       effect=_convert_holds)


def _reclaim_holds(order: Order) -> dict[str, Any]:
    """Claim again, then sell, what a released order held (same quantities, any free serials).
    Raises SoldOut, SlotFull or LimitExceeded if any of it is gone; the caller's transaction
    (savepoint) then rolls every claim back."""
    lines = list(order.lines.select_related("product"))
    quotas: Counter[int] = Counter()
    editions: dict[int, tuple[int, int]] = {}
    slots: Counter[int] = Counter()
    stock: Counter[int] = Counter()
    limits: dict[int, int] = {}
    for line in lines:
        if line.quota_counted and line.product.per_customer_limit is not None:
            quotas[line.product_id] += line.quota_counted
            limits[line.product_id] = line.product.per_customer_limit
        if line.product.kind == ProductKind.COLLECTIBLE:  # summed: a product may be on several lines (bundles)
            held = editions.get(line.product_id, (0, 0))[0]
            editions[line.product_id] = (held + line.quantity, line.product.edition_size or 0)
        if line.slot_id is not None:
            slots[line.slot_id] += line.quantity
        if line.stock_held:
            stock[line.product_id] += line.stock_held
    _claim_quotas(user_id=order.user_id, wanted={pid: (units, limits[pid]) for pid, units in quotas.items()})
    claimed = inventory.inventory_claim_editions(wanted=editions)
    inventory.inventory_claim_slots(wanted=dict(slots))
    inventory.inventory_claim_stock(wanted=dict(stock))
    unlinked = {pid: iter(eds) for pid, eds in claimed.items()}
    OrderLineEdition.objects.bulk_create([
        OrderLineEdition(line=line, edition_id=edition_id)
        for line in lines if line.product_id in unlinked
        for edition_id, _ in islice(unlinked[line.product_id], line.quantity)
    ])
    inventory.inventory_mark_sold(edition_ids=[edition_id for eds in claimed.values() for edition_id, _ in eds])
    serials = sorted(serial for eds in claimed.values() for _, serial in eds)
    # The shopper paid the discounted total: the voucher is taken again or the payment is refunded
    # (VoucherNotApplicable, caught by payments like a sold-out re-claim).
    voucher = vouchers.voucher_reclaim_for_order(order_id=order.pk)
    return {**({"reclaimed_serials": serials} if serials else {}), **voucher}


def order_mark_paid_late(*, order_id: Any, actor: Any = None, payload: dict[str, Any] | None = None) -> Order:
    """A payment succeeded for an expired order: re-claim its inventory and mark it paid. Raises
    SoldOut, SlotFull or LimitExceeded (nothing changed) if the inventory is gone,
    VoucherNotApplicable if the order's voucher went to another order meanwhile, and InvalidState
    from any other state, a cancelled order included: the shopper was told it is cancelled, so a
    stray payment for it is refunded instead (`payment_apply_state`). Idempotent (an order
    already paid is left alone)."""

    def effect(order: Order) -> dict[str, Any]:
        if order.status == OrderStatus.CANCELLED:
            raise InvalidState(_refusal(OrderStatus.PAID)(order))
        return _reclaim_holds(order)

    return _transition(order_id=order_id, name="pay_late", actor=actor,
                       note="late payment; inventory re-claimed", payload=payload, effect=effect)


def order_mark_fulfilled(*, order_id: Any, actor: Any = None) -> Order:
    """Everything was delivered. Raises InvalidState unless paid. Idempotent."""
    return _transition(order_id=order_id, name="fulfil", actor=actor, note="fulfilled")


def order_mark_refunded(*, order_id: Any, partial: bool, actor: Any = None, payload: dict[str, Any] | None = None) -> Order:
    """Record a full or partial refund. Raises InvalidState unless paid, fulfilled or partially
    refunded. A full refund is idempotent; each partial refund is recorded as its own event."""
    if partial:
        return _transition(order_id=order_id, name="refund_partially", actor=actor, note="partially refunded",
                           payload=payload, repeatable=True)
    return _transition(order_id=order_id, name="refund", actor=actor, note="refunded", payload=payload)


def order_record_note(*, order_id: Any, actor: Any, note: str, payload: dict[str, Any] | None = None) -> OrderEvent:
    """Write an event to the order's audit trail without a state change (an operator acted on it).

    Raises Order.DoesNotExist for an unknown id. Not idempotent: each call is one event (callers
    dedupe the action itself)."""
    status = Order.objects.values_list("status", flat=True).get(pk=order_id)
    return OrderEvent.objects.create(order_id=order_id, from_status=status, to_status=status, actor=actor,
                                     note=note[:200], payload=payload or {})
