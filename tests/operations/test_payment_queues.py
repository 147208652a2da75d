"""The queues over payments and notifications: refunds pending, payouts pending, provider events
unprocessed or failed, payments needing attention, failed notifications; their scoping and the
actions on them (replay an event, retry a refund or payout, refund an order)."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.notifications.models import Notification, NotificationStatus
from apps.operations import selectors
from apps.operations.models import OperatorAction
from apps.orders import services as order_services
from apps.payments.models import Payment, PaymentStatus, Refund, RefundStatus, Transfer, TransferStatus, WebhookEvent, WebhookStatus

ACTION = "/ops/actions/"


def _stats(user):
    return {s.name: s for s in selectors.queue_summary(user=user)}


def _paid_with_payment(place, product):
    order = place(product)
    order_services.order_mark_paid(order_id=order.pk)
    payment = Payment.objects.create(order=order, attempt=1, provider="simulated", status=PaymentStatus.SUCCEEDED,
                                     amount=order.total, currency=order.currency, provider_reference=f"pi_{order.pk.hex}")
    return order, payment


@pytest.fixture
def sent(monkeypatch):
    from config.celery import app

    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **kwargs: calls.append((name, kwargs.get("kwargs") or {})))
    return calls


def _post(user, action, target):
    client = Client()
    client.force_login(user)
    return client.post(ACTION, {"action": action, "target": str(target), "key": str(uuid.uuid4())})


def test_refunds_and_payouts_pending_are_counted_and_scoped(operator, staff_a, staff_b, place, product_a, product_b):
    # Given a pending refund of A's order and payouts waiting for A's and B's accounts
    order_a, payment_a = _paid_with_payment(place, product_a)
    order_b, payment_b = _paid_with_payment(place, product_b)
    Refund.objects.create(order=order_a, payment=payment_a, amount=500, currency="CNY", status=RefundStatus.PENDING)
    Refund.objects.create(order=order_b, payment=payment_b, amount=100, currency="CNY", status=RefundStatus.SUCCEEDED)
    Transfer.objects.create(order=order_a, exhibitor=order_a.lines.get().exhibitor, payment=payment_a, currency="CNY",
                            status=TransferStatus.AWAITING_ACCOUNT)
    Transfer.objects.create(order=order_b, exhibitor=order_b.lines.get().exhibitor, payment=payment_b, currency="CNY",
                            status=TransferStatus.SENT)

    # Then operators count one of each, A's staff see theirs, B's staff nothing pending
    assert (_stats(operator)["refund_pending"].count, _stats(operator)["payout_pending"].count) == (1, 1)
    assert (_stats(staff_a)["refund_pending"].count, _stats(staff_a)["payout_pending"].count) == (1, 1)
    assert (_stats(staff_b)["refund_pending"].count, _stats(staff_b)["payout_pending"].count) == (0, 0)
    [item] = selectors.queue_items(user=operator, queue_name="payout_pending")
    assert item.admin_url == reverse("admin:payments_transfer_change", args=[item.pk])
    assert item.actions == ("payout_retry",)


def test_unprocessed_and_failed_provider_events_are_for_operators_only(operator, staff_a):
    WebhookEvent.objects.create(provider="simulated", event_id="evt_1", type="payment_intent.succeeded", payload={},
                                status=WebhookStatus.FAILED, error="order not found")
    WebhookEvent.objects.create(provider="simulated", event_id="evt_2", type="payment_intent.succeeded", payload={},
                                status=WebhookStatus.RECEIVED)
    WebhookEvent.objects.create(provider="simulated", event_id="evt_3", type="payment_intent.succeeded", payload={},
                                status=WebhookStatus.PROCESSED)

    assert _stats(operator)["webhook_events"].count == 2
    assert "webhook_events" not in _stats(staff_a)
    assert "payment_attention" not in _stats(staff_a)


def test_failed_notifications_are_counted_per_exhibitor(operator, staff_a, staff_b, exhibitor_a):
    Notification.objects.create(dedupe_key="n1", kind="new_sale", exhibitor=exhibitor_a, recipient_email="s@a.test",
                                status=NotificationStatus.FAILED, last_error="SMTP 550")
    Notification.objects.create(dedupe_key="n2", kind="order_confirmed", recipient_email="x@y.test",
                                status=NotificationStatus.SENT)

    assert _stats(operator)["notifications_failed"].count == 1
    assert _stats(staff_a)["notifications_failed"].count == 1
    assert _stats(staff_b)["notifications_failed"].count == 0
    [item] = selectors.queue_items(user=operator, queue_name="notifications_failed")
    assert "SMTP 550" in item.detail


def test_payments_needing_attention_are_listed(operator, place, product_a):
    _order, payment = _paid_with_payment(place, product_a)
    Payment.objects.filter(pk=payment.pk).update(needs_attention=True, attention_reason="paid after expiry",
                                                 updated_at=timezone.now() - timedelta(minutes=3))

    stat = _stats(operator)["payment_attention"]

    assert stat.count == 1
    assert stat.breached is True
    assert selectors.queue_items(user=operator, queue_name="payment_attention")[0].detail == "paid after expiry"


def test_replay_a_failed_event_from_the_console(operator, sent, django_capture_on_commit_callbacks):
    event = WebhookEvent.objects.create(provider="simulated", event_id="evt_9", type="payment_intent.succeeded",
                                        payload={}, status=WebhookStatus.FAILED, error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(operator, "webhook_replay", event.pk)

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == WebhookStatus.RECEIVED
    assert sent == [("payments.webhook_process", {"event_pk": event.pk, "replay": True})]
    action = OperatorAction.objects.get()
    assert (action.actor, action.outcome, action.target_type, action.target_id) == (operator, "done", "payments.webhookevent",
                                                                                  str(event.pk))


def test_refund_of_an_unpaid_order_is_refused_and_recorded(operator, place, product_a):
    order = place(product_a)

    _post(operator, "order_refund", order.pk)

    action = OperatorAction.objects.get()
    assert action.outcome == "refused"
    assert not Refund.objects.exists()


def test_retry_of_a_failed_payout_is_refused_with_the_reason(operator, place, product_a):
    order, payment = _paid_with_payment(place, product_a)
    transfer = Transfer.objects.create(order=order, exhibitor=order.lines.get().exhibitor, payment=payment,
                                       currency="CNY", status=TransferStatus.FAILED, failure_message="account closed")

    _post(operator, "payout_retry", transfer.pk)

    assert OperatorAction.objects.get().outcome == "refused"
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.FAILED


def test_retry_of_a_payout_awaiting_an_account_settles_the_order(operator, place, product_a, sent):
    order, payment = _paid_with_payment(place, product_a)
    transfer = Transfer.objects.create(order=order, exhibitor=order.lines.get().exhibitor, payment=payment,
                                       currency="CNY", status=TransferStatus.AWAITING_ACCOUNT)

    _post(operator, "payout_retry", transfer.pk)

    action = OperatorAction.objects.get()
    assert action.outcome == "done", action.detail
    # Still no Connect account: the transfer keeps waiting, nothing is sent twice.
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.AWAITING_ACCOUNT


@pytest.mark.django_db(transaction=True)
def test_refund_from_the_console_goes_through_payments_and_is_audited(operator, shopper, product_a, sent, settings):
    # Given an order paid through the simulated provider (event stored, then processed)
    from apps.orders.models import Order, OrderEvent, OrderStatus
    from apps.payments.services import payment_simulate
    from apps.payments.services.webhooks import webhook_process
    from tests.factories import place_order

    settings.PAYMENT_PROVIDER = "simulated"
    order = place_order(shopper, (product_a, 1))
    payment_simulate(order=order, outcome="succeeded")
    for name, kwargs in list(sent):
        if name == "payments.webhook_process":
            webhook_process(**kwargs)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID

    # When the operator clicks Refund twice (two renders of the button: two keys)
    first = _post(operator, "order_refund", order.pk)
    second = _post(operator, "order_refund", order.pk)

    # Then one refund of the whole amount exists, the order is refunded by the operator, and the
    # second click was refused (nothing left)
    assert first.status_code == second.status_code == 302
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.actor) == (order.total, operator)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED
    assert OrderEvent.objects.get(order=order, to_status=OrderStatus.REFUNDED).actor == operator
    assert sorted(OperatorAction.objects.values_list("outcome", flat=True)) == ["done", "refused"]
