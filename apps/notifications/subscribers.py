"""Notifications listen to the layers below (marketplace/events.py; imported by NotificationsConfig.ready).

Notifications own every message they send, one owner per kind: the lower layers tell what
happened, these subscribers decide who hears of it and in what words. Each runs `in_transaction`,
so the outbox rows are written atomically with the fact they announce (a rolled-back fact sends
nothing, a committed one cannot lose its message); the rows are sent after commit by one
`notifications.send_batch` task per transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.fulfilment import links
from apps.notifications.services import NotificationEvent, notification_enqueue, notifications_enqueue_many
from apps.orders.models import OrderLine
from apps.payments.models import Refund, RefundLine
from marketplace import events
from marketplace.money import format_money


def _order_fulfilled_notices(*, order_id: str, order_number: str, user_id: int, currency: str, total: int,
                             delivered: bool, lines: list[dict[str, Any]], **_: Any) -> list[NotificationEvent]:
    notices = [NotificationEvent(
        kind="order_confirmed", recipient_user_id=user_id, dedupe_key=f"order:{order_id}:confirmed",
        context={"order_id": order_id, "order_number": order_number, "currency": currency, "total": total,
                 "total_display": format_money(total, currency),
                 "lines": [{"title": line["title"], "quantity": line["quantity"]} for line in lines],
                 "library_url": links.goods_url(order_id=order_id, user_id=user_id), "delivered": delivered},
    )]
    if delivered:
        by_exhibitor: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            by_exhibitor.setdefault(line["exhibitor_id"], []).append(line)
        for exhibitor_id, own in sorted(by_exhibitor.items()):
            sold = sum(line["total"] for line in own)
            notices.append(NotificationEvent(
                kind="new_sale", exhibitor_id=exhibitor_id, dedupe_key=f"order:{order_id}:sale:{exhibitor_id}",
                context={"order_number": order_number, "exhibitor_id": exhibitor_id, "currency": currency,
                         "total": sold, "total_display": format_money(sold, currency),
                         "lines": [{"line_id": line["line_id"], "product_id": line["product_id"], "title": line["title"],
                                    "quantity": line["quantity"], "unit_price": line["unit_price"]} for line in own]},
            ))
    return notices


@events.subscriber("order.fulfilled", when="in_transaction")
def order_fulfilled(**payload: Any) -> None:
    """The shopper's order_confirmed (paid; in the library when `delivered`) and, when delivered,
    each exhibitor's new_sale (its staff and webhook endpoints). Idempotent per order."""
    notifications_enqueue_many(events=_order_fulfilled_notices(**payload))


def _orders_fulfilled(*, payloads: list[dict[str, Any]]) -> None:
    """The same for a batch of orders fulfilled in one transaction (`events.emit_many`): their rows
    are written together and sent by one task."""
    notifications_enqueue_many(events=[notice for payload in payloads for notice in _order_fulfilled_notices(**payload)])


order_fulfilled.many = _orders_fulfilled  # type: ignore[attr-defined]


@events.subscriber("refund.succeeded", when="in_transaction")
def refund_succeeded(*, refund_id: int, line_ids: list[int], full: bool, **_: Any) -> None:
    """The shopper's refund_issued, and ONE sale_refunded per exhibitor with a share of the refund:
    its amount, and the items of its lines this refund returned (none for an amount-only refund).
    Idempotent per refund (dedupe keys `refund_issued:<refund>`, `sale_refunded:<refund>:<exhibitor>`)."""

    refund = Refund.objects.select_related("order").get(pk=refund_id)
    order = refund.order
    # A full refund names every line; those returned by an earlier refund were announced then.
    earlier = RefundLine.objects.filter(line_id__in=line_ids).exclude(refund_id=refund_id).values_list("line_id", flat=True)
    items: dict[int, list[dict[str, Any]]] = {}
    for line in OrderLine.objects.filter(pk__in=line_ids).exclude(pk__in=list(earlier)).order_by("id"):
        items.setdefault(line.exhibitor_id, []).append({"line_id": line.pk, "title": line.title, "quantity": line.quantity})
    context = {"order_id": str(order.pk), "order_number": order.number, "refund_id": refund.pk,
               "amount": refund.amount, "currency": refund.currency, "full": full}
    notices = [NotificationEvent(kind="refund_issued", recipient_user_id=order.user_id, context=context,
                                 dedupe_key=f"refund_issued:{refund.pk}")]
    notices += [
        NotificationEvent(kind="sale_refunded", exhibitor_id=allocation.exhibitor_id,
                          context={**context, "exhibitor_amount": allocation.amount,
                                   "lines": items.get(allocation.exhibitor_id, [])},
                          dedupe_key=f"sale_refunded:{refund.pk}:{allocation.exhibitor_id}")
        for allocation in refund.allocations.order_by("exhibitor_id")
    ]
    notifications_enqueue_many(events=notices)


@events.subscriber("operator.attention_needed", when="in_transaction")
def operator_attention_needed(*, reason: str, dedupe_key: str, context: dict[str, Any] | None = None, **_: Any) -> None:
    """Every operator's operator_attention. Idempotent per `dedupe_key`."""
    notification_enqueue(kind="operator_attention", context={"reason": reason, **(context or {})}, dedupe_key=dedupe_key)


def _local_time(iso: str) -> str:
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M %Z")


def _ballot_won_notices(*, ballot_id: int, product_id: int, product_title: str, winners: list[dict[str, Any]],
                        passed_on: bool) -> list[NotificationEvent]:
    return [NotificationEvent(
        kind="ballot_won", recipient_user_id=winner["user_id"], dedupe_key=f"ballot:{ballot_id}:entry:{winner['entry_id']}:won",
        context={"product_id": product_id, "product_title": product_title, "purchase_by": winner["purchase_by"],
                 "purchase_by_display": _local_time(winner["purchase_by"]), "passed_on": passed_on},
    ) for winner in winners]


@events.subscriber("ballot.drawn", when="in_transaction")
def ballot_drawn(*, ballot_id: int, product_id: int, product_title: str, winners: list[dict[str, Any]],
                 others: list[dict[str, Any]], **_: Any) -> None:
    """Everyone registered hears the result: ballot_won (with the purchase window's end) or
    ballot_lost. Idempotent per registration (dedupe keys)."""
    notices = _ballot_won_notices(ballot_id=ballot_id, product_id=product_id, product_title=product_title, winners=winners,
                                  passed_on=False)
    notices += [NotificationEvent(
        kind="ballot_lost", recipient_user_id=other["user_id"], dedupe_key=f"ballot:{ballot_id}:entry:{other['entry_id']}:lost",
        context={"product_id": product_id, "product_title": product_title},
    ) for other in others]
    notifications_enqueue_many(events=notices)


@events.subscriber("ballot.offered", when="in_transaction")
def ballot_offered(*, ballot_id: int, product_id: int, product_title: str, winners: list[dict[str, Any]], **_: Any) -> None:
    """A win passed on: its new holder's ballot_won. Idempotent per registration."""
    notifications_enqueue_many(events=_ballot_won_notices(ballot_id=ballot_id, product_id=product_id,
                                                          product_title=product_title, winners=winners, passed_on=True))


@events.subscriber("gift.received", when="in_transaction")
def gift_received(*, gift_id: int, to_user_id: int, product_title: str, serial: int, edition_size: int,
                  certificate_code: str, **_: Any) -> None:
    """The recipient's gift_received, with the certificate's public page. Idempotent per gift."""
    notification_enqueue(kind="gift_received", recipient_user_id=to_user_id, dedupe_key=f"gift:{gift_id}:received",
                         context={"product_title": product_title, "serial": serial, "edition_size": edition_size,
                                  "certificate_url": links.certificate_page_url(certificate_code)})


@events.subscriber("gift.revoked", when="in_transaction")
def gift_revoked(*, gift_id: int, to_user_id: int, product_title: str, serial: int, edition_size: int, **_: Any) -> None:
    """The recipient's gift_revoked: a refund of the original purchase took the given collectible
    back. Idempotent per gift."""
    notification_enqueue(kind="gift_revoked", recipient_user_id=to_user_id, dedupe_key=f"gift:{gift_id}:revoked",
                         context={"product_title": product_title, "serial": serial, "edition_size": edition_size})
