"""Shared set-up of the dashboard tests: sales made through the real payment and payout services
(simulated provider), dated on purpose by moving the order's "paid" event."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from apps.orders.models import OrderEvent, OrderStatus
from apps.payments.models import ConnectAccount, ConnectStatus, Refund
from apps.payments.providers.base import PaymentState
from apps.payments.services import payment_apply_state, payment_create_for_order
from apps.payments.services.payouts import payouts_settle_order
from apps.payments.services.refunds import refund_create
from tests.factories import place_order

TZ = timezone.get_default_timezone()


def next_wednesday_noon() -> datetime:
    """A fixed "now" for the figures: the next Wednesday after today at 12:00, expo time, so that
    "today", "yesterday (this week)" and "ten days ago" are unambiguous whatever day tests run."""
    today = timezone.localdate(timezone=TZ)
    day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    return timezone.make_aware(datetime.combine(day, time(12, 0)), TZ)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)), TZ)


def sell(user, *lines, paid_at: datetime | None = None):
    """An order placed and paid through the payment services (as the webhook does), its paid
    event moved to `paid_at`."""
    order = place_order(user, *lines)
    payment = payment_create_for_order(order=order)
    payment_apply_state(payment_id=payment.pk, state=PaymentState(
        reference=payment.provider_reference or "", status="succeeded", amount=order.total, currency=order.currency,
        charge_reference=f"sim_ch_{payment.pk}"))
    if paid_at is not None:
        OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).update(created_at=paid_at)
    order.refresh_from_db()
    return order


def onboard(exhibitor) -> ConnectAccount:
    return ConnectAccount.objects.create(exhibitor=exhibitor, provider="simulated",
                                         account_reference=f"sim_acct_{exhibitor.pk}", status=ConnectStatus.ENABLED)


def settle(order) -> None:
    payouts_settle_order(order_id=order.pk)


def refund_lines(order, lines, *, actor, refunded_at: datetime | None = None) -> Refund:
    refund = refund_create(order_id=order.pk, actor=actor, line_ids=[line.pk for line in lines])
    if refunded_at is not None:
        Refund.objects.filter(pk=refund.pk).update(succeeded_at=refunded_at)
    return refund
