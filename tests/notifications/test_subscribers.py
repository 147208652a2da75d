"""Notifications own every message they send: the lower layers emit domain events, the subscribers
in apps/notifications/subscribers.py write the outbox rows in the emitter's transaction."""

# ruff: noqa: F811 - the payments fixtures are imported, then requested by name

from collections import Counter

import pytest
from django.db import transaction

from apps.notifications.models import Notification
from apps.notifications.services import render_email
from apps.orders.models import OrderStatus
from apps.payments.models import Payment, RefundStatus
from apps.payments.services.refunds import refund_create
from apps.payments.services.webhooks import webhook_record_simulated
from marketplace import events
from tests.factories import staff_of
from tests.payments.conftest import _simulated, alpha, bravo, order, products, tasks  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_event_has_its_owners_subscribed():
    assert events.subscribers_of("refund.succeeded") == [
        "apps.fulfilment.subscribers.schedule_revocation", "apps.notifications.subscribers.refund_succeeded"]
    assert events.subscribers_of("order.paid") == ["apps.fulfilment.subscribers.schedule_fulfilment"]
    assert events.subscribers_of("order.fulfilled") == [
        "marketplace.db.routing.pin_after_fulfilment", "apps.notifications.subscribers.order_fulfilled"]
    assert events.subscribers_of("operator.attention_needed") == [
        "apps.notifications.subscribers.operator_attention_needed"]


def test_an_amount_refund_tells_each_exhibitor_its_amount_once_and_revokes_nothing(order, tasks, operator, shopper,
                                                                                   alpha, bravo):
    # Given a paid order of Alpha's and Bravo's goods, each with a staff member
    alpha_staff = staff_of(alpha, email="staff@alpha.test")
    bravo_staff = staff_of(bravo, email="staff@bravo.test")
    webhook_record_simulated(payment=Payment.objects.get(order=order), outcome="succeeded")
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    tasks.sent.clear()
    before = set(Notification.objects.values_list("pk", flat=True))

    # When an operator refunds an amount (no lines)
    refund = refund_create(order_id=order.pk, amount=1000, actor=operator)
    tasks.run_payments()

    # Then the shopper is told once, each exhibitor with a share once, with its amount and no items
    assert refund.status == RefundStatus.SUCCEEDED
    new = Notification.objects.exclude(pk__in=before)
    assert Counter(new.filter(kind="refund_issued").values_list("recipient_user_id", flat=True)) == {shopper.pk: 1}
    sale = list(new.filter(kind="sale_refunded"))
    assert Counter(n.recipient_user_id for n in sale) == {alpha_staff.pk: 1, bravo_staff.pk: 1}
    shares = {a.exhibitor_id: a.amount for a in refund.allocations.all()}
    assert {n.exhibitor_id: (n.context["exhibitor_amount"], n.context["lines"]) for n in sale} == {
        alpha.pk: (shares[alpha.pk], []), bravo.pk: (shares[bravo.pk], [])}
    # and nothing is revoked
    assert tasks.named("fulfilment.revoke_lines") == []
    _, body = render_email(kind="sale_refunded", language="en", context=sale[0].context)
    assert "refunded to the shopper" in body and "These items" not in body


def test_operator_attention_is_written_with_the_fact_and_rolled_back_with_it(operator, tasks):
    # When the fact announcing it rolls back
    written = []

    def fact_then_failure() -> None:
        with transaction.atomic():
            events.emit("operator.attention_needed", reason="stuck", dedupe_key="t:rolled", context={"order_id": None})
            written.append(Notification.objects.filter(dedupe_key__startswith="t:rolled").count())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fact_then_failure()
    assert written == [1]
    # Then no message stays and none is sent
    assert not Notification.objects.filter(dedupe_key__startswith="t:rolled").exists()
    assert tasks.named("notifications.send_batch") == []
    # When it commits: one message per operator, sent by one task after commit
    events.emit("operator.attention_needed", reason="stuck", dedupe_key="t:kept", context={"payment_id": 7})
    (row,) = Notification.objects.filter(dedupe_key__startswith="t:kept")
    assert row.recipient_user_id == operator.pk and row.context == {"reason": "stuck", "payment_id": 7}
    assert tasks.named("notifications.send_batch") == [{"notification_ids": [row.pk]}]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_old_revocation_row_still_renders(language):
    # rows written before notifications owned sale_refunded: items without an amount
    context = {"order_number": "EX-1", "reason": "refund", "lines": [{"line_id": 1, "title": "Guide", "units": 2}]}
    _, body = render_email(kind="sale_refunded", language=language, context=context)
    assert "2 × Guide" in body
