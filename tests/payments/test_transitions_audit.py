"""Payment, Refund, Transfer and TransferReversal go through the kernel's transition helper:
one audit row per change, a repeat is a no-op, a wrong state changes nothing."""

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.payments.models import Payment, PaymentStatus, Refund, RefundStatus, Transfer, TransferReversal, TransferStatus
from apps.payments.providers import PaymentState, ProviderObject
from apps.payments.services import payment_apply_state
from apps.payments.services.payouts import reversal_retry, transfer_retry, transfer_send
from apps.payments.services.refunds import refund_create, refund_record_result
from marketplace.models import AuditEvent
from tests.factories import staff_of
from tests.payments.test_flow import _pay

# transaction=True: on_commit hooks (task enqueueing) must really fire mid-test.
pytestmark = pytest.mark.django_db(transaction=True)


def _trail(obj) -> list[tuple[str, str, str]]:
    rows = AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk))
    return [(e.name, e.from_state, e.to_state) for e in rows.order_by("id")]


def test_payment_success_is_audited_once(client_a, order, tasks):
    _pay(client_a, order, tasks)
    payment = Payment.objects.get(order=order)
    state = PaymentState(reference=payment.provider_reference or "", status=PaymentStatus.SUCCEEDED, amount=payment.amount,
                         currency=payment.currency,
                         charge_reference=payment.charge_reference)

    assert payment_apply_state(payment_id=payment.pk, state=state) == "already_succeeded"  # twice: nothing

    assert _trail(payment) == [("succeed", "requires_payment", "succeeded")]


def test_payment_failure_is_audited_and_a_succeeded_payment_never_moves(client_a, order, tasks):
    payment = Payment.objects.get(order=order)
    failed = PaymentState(reference=payment.provider_reference or "", status=PaymentStatus.FAILED, amount=payment.amount,
                          currency=payment.currency,
                          failure_message="card declined")
    payment_apply_state(payment_id=payment.pk, state=failed)
    payment_apply_state(payment_id=payment.pk, state=failed)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_message == "card declined"
    assert _trail(payment) == [("apply_provider_state", "requires_payment", "failed")]


def test_refund_success_is_audited_once_and_a_late_failure_changes_nothing(client_a, order, tasks, bravo):
    _pay(client_a, order, tasks)
    staff = staff_of(bravo, email="staff@bravo.test")
    refund = refund_create(order_id=order.pk, line_ids=[order.lines.get(exhibitor=bravo).pk], actor=staff)
    tasks.run_payments()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED

    # the provider's answer arriving again, now as a failure (a wrong state: ignored)
    late = ProviderObject(reference=refund.provider_reference or "", status="failed", extra={"error": "late"})
    assert refund_record_result(refund_id=refund.pk, result=late) == RefundStatus.SUCCEEDED
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.failure_message == ""
    assert _trail(refund) == [("succeed", "pending", "succeeded")]
    # and the reversal it caused was sent, audited once
    reversal = TransferReversal.objects.get()
    assert _trail(reversal) == [("send", "pending", "sent")]


def test_transfers_are_audited_once_and_sending_again_is_a_no_op(client_a, order, tasks):
    _pay(client_a, order, tasks)
    for transfer in Transfer.objects.filter(order=order):
        assert transfer_send(transfer_id=transfer.pk) == TransferStatus.SENT  # twice: nothing
        assert _trail(transfer) == [("settle", "pending", "sending"), ("send", "sending", "sent")]


def test_retrying_a_transfer_or_reversal_in_a_wrong_state_records_nothing(client_a, order, tasks, operator):
    _pay(client_a, order, tasks)
    transfer = Transfer.objects.filter(order=order).first()
    assert transfer_retry(transfer_id=transfer.pk, actor=operator) == TransferStatus.SENT
    assert [name for name, *_ in _trail(transfer)] == ["settle", "send"]


def test_retrying_a_failed_transfer_is_audited_with_the_operator(client_a, order, tasks, operator):
    _pay(client_a, order, tasks)
    transfer = Transfer.objects.filter(order=order).first()
    Transfer.objects.filter(pk=transfer.pk).update(status=TransferStatus.FAILED)
    transfer_retry(transfer_id=transfer.pk, actor=operator)
    event = AuditEvent.objects.get(content_type=ContentType.objects.get_for_model(Transfer), object_id=str(transfer.pk),
                                   name="retry")
    assert (event.from_state, event.to_state, event.actor) == ("failed", "pending", operator)


def test_admin_shows_a_transfer_trail_to_its_exhibitor_only(client, client_a, order, tasks, alpha, bravo):
    _pay(client_a, order, tasks)
    own = Transfer.objects.get(order=order, exhibitor=alpha)
    other = Transfer.objects.get(order=order, exhibitor=bravo)
    client.force_login(staff_of(alpha, email="staff@alpha.test"))
    page = client.get(f"/admin/payments/transfer/{own.pk}/change/")
    assert page.status_code == 200 and "audit-trail" in page.content.decode()
    assert client.get(f"/admin/payments/transfer/{other.pk}/change/").status_code == 404


def test_reversal_retry_of_a_sent_reversal_records_nothing(client_a, order, tasks, bravo, operator):
    _pay(client_a, order, tasks)
    refund_create(order_id=order.pk, line_ids=[order.lines.get(exhibitor=bravo).pk], actor=operator)
    tasks.run_payments()
    reversal = TransferReversal.objects.get()
    assert reversal_retry(reversal_id=reversal.pk, actor=operator) == TransferStatus.SENT
    assert _trail(reversal) == [("send", "pending", "sent")]
    assert Refund.objects.count() == 1
