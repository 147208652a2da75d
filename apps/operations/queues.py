"""The console's queues, declared as data: adding a queue is a few lines here.

A `Source` is one table the console reads. All the queues of a source are counted and aged by a
single aggregate query over that table (`COUNT(*) FILTER (...)`, `MIN(...) FILTER (...)`) whose
WHERE clause is the OR of the queues' conditions, so it reads only rows that are in some queue
(through the indexes each condition is written for), never the table's history.

A `QueueDef` names a queue, says which rows of its source are in it (`condition`), which
timestamp ages them (`age_field`: the oldest item is the smallest), how to describe an item and
link to its admin page, and which console actions apply to its items.

Queues whose owning app has not defined the table yet are simply not declared (no fake queue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.db.models import Exists, Model, OuterRef, Q, QuerySet, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext, gettext_noop

from apps.notifications.models import NotificationStatus
from apps.orders.models import OrderEvent, OrderLine, OrderStatus
from apps.payments.models import RefundStatus, TransferStatus, WebhookStatus
from marketplace.money import format_money
from marketplace.tenancy import is_operator, scope_to_user

ScopeFn = Callable[[QuerySet[Any], Any], QuerySet[Any]]


@dataclass(frozen=True)
class Source:
    """A table read by the console. `scope` restricts it to what a non-operator may see; a source
    without one is for operators only (platform data such as payment-provider events)."""

    key: str
    model_label: str
    scope: ScopeFn | None = None
    select_related: tuple[str, ...] = ()

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.model_label)

    def queryset(self, user: Any | None) -> QuerySet[Any]:
        """Rows visible to `user`; `user=None` is the system's view (metrics, the terminal)."""
        queryset = self.model._default_manager.all()
        if user is None or is_operator(user):
            return queryset
        if self.scope is None:
            return queryset.none()
        return self.scope(queryset, user)

    def visible_to(self, user: Any | None) -> bool:
        return user is None or is_operator(user) or self.scope is not None


@dataclass(frozen=True)
class QueueDef:
    name: str
    label: str
    source: Source
    # Which rows are in the queue: a Q, or a function of the current time returning one.
    condition: Q | Callable[[datetime], Q]
    age_field: str
    describe: Callable[[Any], str]
    detail: Callable[[Any], str] = lambda obj: ""
    actions: tuple[str, ...] = ()
    annotations: Callable[[], dict[str, Any]] = field(default=lambda: {})

    def where(self, now: datetime) -> Q:
        return self.condition(now) if callable(self.condition) else self.condition

    def admin_url(self, obj: Any, user: Any | None) -> str | None:
        """The admin page behind an item. Exhibitor staff cannot open whole orders (they span
        exhibitors), so for them an order links to its lines of their products."""
        meta = self.source.model._meta
        if user is not None and not is_operator(user):
            if meta.label_lower == "orders.order":
                return reverse("admin:orders_orderline_changelist") + "?" + urlencode({"q": obj.number})
            return None
        try:
            return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        except NoReverseMatch:  # the model has no admin page
            return None


# --- Sources -----------------------------------------------------------------------------------


def scope_by_order(path: str) -> ScopeFn:
    """Scope rows that belong to an order (`path` is the lookup of the order's id): visible to
    exhibitor staff when one of the order's lines is of their exhibitor. A correlated EXISTS, not
    a join, so an order with two such lines counts once, and the probe uses the lines' order_id
    index for the queued rows only."""

    def scope(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:

        lines = scope_to_user(OrderLine.objects.all(), user, path="exhibitor_id")
        return queryset.filter(Exists(lines.filter(order_id=OuterRef(path))))

    return scope


def scope_by_exhibitor(path: str) -> ScopeFn:
    def scope(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
        return scope_to_user(queryset, user, path=path)

    return scope


ORDERS = Source(key="orders", model_label="orders.Order", scope=scope_by_order("pk"), select_related=("user",))


def _order_label(order: Any) -> str:
    return f"{order.number} · {format_money(order.total, order.currency)}"


def _order_owner(order: Any) -> str:
    return order.user.email


def _has_model(label: str) -> bool:
    app_label, model_name = label.split(".")
    try:
        apps.get_model(app_label, model_name)
    except LookupError:
        return False
    return True


# --- Queues --------------------------------------------------------------------------------------


def _order_queues() -> list[QueueDef]:

    def last_error() -> dict[str, Any]:
        events = OrderEvent.objects.filter(order_id=OuterRef("pk"), note="needs attention").order_by("-created_at", "-id")
        return {"last_error": Subquery(events.values("payload__error")[:1])}

    def queued_since(now: datetime) -> datetime:
        # Fulfilment runs as one transaction (entitlements and the `fulfilled` status commit
        # together), so no row says "being fulfilled". What can be said: the task is enqueued when
        # the order is paid, and the beat sweep re-enqueues paid orders older than its threshold.
        # Younger paid orders are in flight ("fulfilling"); older ones await the sweep.
        return now - settings.FULFILMENT["SWEEP_THRESHOLD"]

    paid_ok = Q(status=OrderStatus.PAID, needs_attention=False)
    return [
        QueueDef(
            name="pending_payment", label=gettext_noop("Pending payment"), source=ORDERS,
            condition=Q(status=OrderStatus.PENDING_PAYMENT), age_field="status_changed_at",
            describe=_order_label, detail=_order_owner, actions=("order_cancel",),
        ),
        QueueDef(
            name="fulfilling", label=gettext_noop("Fulfilling (task enqueued)"), source=ORDERS,
            condition=lambda now: paid_ok & Q(status_changed_at__gt=queued_since(now)), age_field="status_changed_at",
            describe=_order_label, detail=_order_owner,
        ),
        QueueDef(
            name="paid_awaiting_fulfilment", label=gettext_noop("Paid, awaiting fulfilment"), source=ORDERS,
            condition=lambda now: paid_ok & Q(status_changed_at__lte=queued_since(now)), age_field="status_changed_at",
            describe=_order_label, detail=_order_owner, actions=("fulfilment_retry",),
        ),
        QueueDef(
            name="needs_attention", label=gettext_noop("Needs attention"), source=ORDERS,
            condition=Q(needs_attention=True), age_field="status_changed_at",
            describe=_order_label, detail=lambda o: str(getattr(o, "last_error", "") or "")[:200],
            actions=("fulfilment_retry", "order_refund"), annotations=last_error,
        ),
    ]


def _money(obj: Any) -> str:
    return format_money(obj.amount, obj.currency)


def _payment_queues() -> list[QueueDef]:
    if not _has_model("payments.Refund"):
        return []

    refunds = Source(key="refunds", model_label="payments.Refund", scope=scope_by_order("order_id"),
                     select_related=("order",))
    transfers = Source(key="transfers", model_label="payments.Transfer", scope=scope_by_exhibitor("exhibitor_id"),
                       select_related=("order", "exhibitor"))
    # Provider events and payment problems are platform data: operators only (no scope).
    events = Source(key="webhook_events", model_label="payments.WebhookEvent")
    payments = Source(key="payments", model_label="payments.Payment", select_related=("order",))
    return [
        QueueDef(
            name="refund_pending", label=gettext_noop("Refunds pending"), source=refunds,
            condition=Q(status=RefundStatus.PENDING), age_field="created_at",
            describe=lambda r: gettext("Refund %(id)s · %(amount)s") % {"id": r.pk, "amount": _money(r)},
            detail=lambda r: (gettext("order %(number)s") % {"number": r.order.number} + f" {r.reason}").strip(),
            actions=("refund_retry",),
        ),
        QueueDef(
            name="payout_pending", label=gettext_noop("Payouts pending"), source=transfers,
            condition=Q(status__in=[TransferStatus.PENDING, TransferStatus.AWAITING_ACCOUNT, TransferStatus.SENDING,
                                    TransferStatus.FAILED]),
            age_field="created_at",
            describe=lambda t: gettext("Transfer %(id)s → %(exhibitor)s") % {"id": t.pk, "exhibitor": t.exhibitor.name},
            detail=lambda t: (gettext("order %(number)s") % {"number": t.order.number}
                              + f" · {t.get_status_display()} {t.failure_message}").strip(),
            actions=("payout_retry",),
        ),
        QueueDef(
            name="webhook_events", label=gettext_noop("Payment events unprocessed or failed"), source=events,
            condition=Q(status__in=[WebhookStatus.RECEIVED, WebhookStatus.FAILED]), age_field="received_at",
            describe=lambda e: f"{e.type} {e.event_id}",
            detail=lambda e: (e.error or gettext("%(count)d attempt(s)") % {"count": e.attempts})[:200],
            actions=("webhook_replay",),
        ),
        QueueDef(
            name="payment_attention", label=gettext_noop("Payments needing attention"), source=payments,
            condition=Q(needs_attention=True), age_field="updated_at",
            describe=lambda p: gettext("Payment %(id)s · %(amount)s") % {"id": p.pk, "amount": _money(p)},
            detail=lambda p: p.attention_reason[:200],
        ),
    ]


def _notification_queues() -> list[QueueDef]:
    if not _has_model("notifications.Notification"):
        return []

    notifications = Source(key="notifications", model_label="notifications.Notification",
                           scope=scope_by_exhibitor("exhibitor_id"))
    return [
        QueueDef(
            name="notifications_failed", label=gettext_noop("Notifications failed"), source=notifications,
            condition=Q(status=NotificationStatus.FAILED), age_field="created_at",
            describe=lambda n: f"{n.get_kind_display()} · {n.get_channel_display()}",
            detail=lambda n: f"{n.recipient_email or n.endpoint_id or ''} {n.last_error}"[:200],
        ),
    ]


@cache
def queue_definitions() -> tuple[QueueDef, ...]:
    """Every queue of the console, in display order (computed once per process)."""
    return (*_order_queues(), *_payment_queues(), *_notification_queues())


def queues_for(user: Any | None) -> list[QueueDef]:
    """The queues `user` may see: all for operators and the system; scoped ones for staff."""
    return [q for q in queue_definitions() if q.source.visible_to(user)]
