"""End to end through the simulated provider: simulate -> inbox -> task -> paid, ledger, payouts;
refunds; late payments; the ledger report."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.catalog.models import Edition, EditionStatus
from apps.orders import services as order_services
from apps.orders.models import Order, OrderEvent, OrderStatus
from apps.payments.models import (
    LedgerEntry,
    Payment,
    PaymentStatus,
    Refund,
    RefundKind,
    RefundStatus,
    Transfer,
    TransferReversal,
    TransferStatus,
    WebhookEvent,
    WebhookStatus,
)
from apps.payments.selectors import ledger_order_balance, ledger_report
from apps.payments.services.common import commission_of
from apps.payments.services.refunds import refund_create, refund_remaining
from marketplace.errors import InvalidState, NotFound, PermissionDenied
from tests.factories import ShopperFactory, place_order, staff_of

# transaction=True: on_commit hooks (task enqueueing) must really fire mid-test.
pytestmark = pytest.mark.django_db(transaction=True)


def _simulate(client, order, outcome="succeeded"):
    return client.post(f"/api/v1/orders/{order.pk}/payment/simulate", {"outcome": outcome}, format="json")


def _pay(client, order, tasks):
    assert _simulate(client, order).status_code == 202
    tasks.run_payments()
    order.refresh_from_db()
    return order


def _ledger(order) -> dict[str, int]:
    rows = LedgerEntry.objects.filter(order=order)
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.kind] = totals.get(row.kind, 0) + row.amount
    return totals


def test_commission_rounds_half_up():
    assert commission_of(10799, 1000) == 1080  # 1079.9
    assert commission_of(6010, 1250) == 751  # 751.25
    assert commission_of(1005, 1000) == 101  # 100.5 -> up
    assert commission_of(0, 1000) == 0


def test_simulate_succeeded_pays_once_and_pays_out(client_a, order, tasks, alpha, bravo):
    # when the shopper simulates a successful payment and the queued task runs
    response = _simulate(client_a, order)
    assert response.status_code == 202
    event = WebhookEvent.objects.get(provider="simulated")
    assert event.status == WebhookStatus.RECEIVED and tasks.named("payments.webhook_process") == [{"event_pk": event.pk}]
    tasks.run_payments()

    # then the order is paid once, its edition sold, fulfilment and payouts scheduled
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Edition.objects.filter(order_line_link__line__order=order, status=EditionStatus.SOLD).count() == 1
    assert tasks.named("fulfilment.fulfil_order") == [{"order_id": str(order.pk)}]
    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED and event.processed_at is not None
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.charge_reference == f"sim_ch_{payment.pk}"
    transfers = {t.exhibitor_id: t for t in Transfer.objects.filter(order=order)}
    assert (transfers[alpha.pk].gross, transfers[alpha.pk].commission, transfers[alpha.pk].amount) == (10799, 1080, 9719)
    assert (transfers[bravo.pk].gross, transfers[bravo.pk].commission, transfers[bravo.pk].amount) == (6010, 751, 5259)
    assert {t.status for t in transfers.values()} == {TransferStatus.SENT}
    assert _ledger(order) == {"capture": 16809, "transfer": 9719 + 5259, "commission": 1080 + 751}
    assert ledger_order_balance(order_id=order.pk).status == "balanced"


def test_simulating_again_is_the_same_event(client_a, order, tasks):
    _pay(client_a, order, tasks)
    # a repeated simulate on a paid order is refused; a repeated event id is stored once
    assert _simulate(client_a, order).status_code == 409
    assert WebhookEvent.objects.count() == 1
    tasks.run_payments()
    assert Transfer.objects.filter(order=order).count() == 2
    assert LedgerEntry.objects.filter(order=order, kind="capture").count() == 1


def test_simulate_failed_leaves_order_payable(client_a, order, tasks):
    assert _simulate(client_a, order, "failed").status_code == 202
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert Payment.objects.get(order=order).status == PaymentStatus.FAILED
    # a new attempt can then succeed
    assert _simulate(client_a, order).status_code == 202
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Payment.objects.filter(order=order).count() == 2


def test_simulate_is_404_for_a_foreign_order_and_without_the_simulated_provider(order, settings, products):
    from rest_framework.test import APIClient

    other = APIClient()
    other.force_authenticate(ShopperFactory())
    assert _simulate(other, order).status_code == 404
    owner = APIClient()
    owner.force_authenticate(order.user)
    settings.PAYMENT_PROVIDER = "stripe"
    assert _simulate(owner, order).status_code == 404
    assert WebhookEvent.objects.count() == 0


def test_line_refund_by_exhibitor_staff_reverses_their_transfer(client_a, order, tasks, alpha, bravo):
    _pay(client_a, order, tasks)
    staff = staff_of(bravo, email="staff@bravo.test")
    pass_line = order.lines.get(exhibitor=bravo)
    alpha_line = order.lines.filter(exhibitor=alpha).first()

    # staff of Bravo cannot refund Alpha's line, nor an amount
    with pytest.raises(NotFound):
        refund_create(order_id=order.pk, line_ids=[alpha_line.pk], actor=staff)
    with pytest.raises(PermissionDenied):
        refund_create(order_id=order.pk, amount=100, actor=staff)

    # when Bravo's staff refund their line
    refund = refund_create(order_id=order.pk, line_ids=[pass_line.pk], actor=staff, reason="changed mind")
    tasks.run_payments()

    # then the refund succeeded, the order is partially refunded and the line handed to revocation
    assert refund.status == RefundStatus.SUCCEEDED and refund.amount == 6010
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert tasks.named("fulfilment.revoke_lines") == [{"order_line_ids": [pass_line.pk], "reason": "refund"}]
    reversal = TransferReversal.objects.get()
    assert (reversal.amount, reversal.commission_returned, reversal.status) == (5259, 751, TransferStatus.SENT)
    assert ledger_order_balance(order_id=order.pk).status == "balanced"
    # and the line cannot be refunded twice
    with pytest.raises(InvalidState):
        refund_create(order_id=order.pk, line_ids=[pass_line.pk], actor=staff)


def test_amount_refund_never_exceeds_capture(client_a, order, tasks, operator):
    _pay(client_a, order, tasks)
    refund_create(order_id=order.pk, amount=1001, actor=operator)
    tasks.run_payments()
    with pytest.raises(InvalidState):
        refund_create(order_id=order.pk, amount=16809 - 1001 + 1, actor=operator)
    refund_remaining(order_id=order.pk, actor=operator)
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert sum(Refund.objects.filter(order=order).values_list("amount", flat=True)) == 16809
    balance = ledger_order_balance(order_id=order.pk)
    assert balance.status == "balanced" and balance.refund == 16809
    assert balance.transfer - balance.transfer_reversal == 0 and balance.commission == 0


def test_payment_for_expired_order_reclaims_free_inventory(client_a, order, tasks):
    order_services.order_expire(order_id=order.pk, now=order.expires_at + timedelta(seconds=1))
    payment = Payment.objects.get(order=order)
    from apps.payments.services.webhooks import webhook_record_simulated

    webhook_record_simulated(payment=payment, outcome="succeeded")
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=order, from_status=OrderStatus.EXPIRED, to_status=OrderStatus.PAID).exists()
    assert Edition.objects.filter(order_line_link__line__order=order, status=EditionStatus.SOLD).count() == 1
    assert not Refund.objects.exists()


def test_payment_for_expired_order_with_inventory_gone_is_refunded_and_raised(client_a, order, tasks, products):
    order_services.order_expire(order_id=order.pk, now=order.expires_at + timedelta(seconds=1))
    # the drop sells out meanwhile
    place_order(ShopperFactory(), (products["drop"], 3))
    payment = Payment.objects.get(order=order)
    from apps.payments.services.webhooks import webhook_record_simulated

    webhook_record_simulated(payment=payment, outcome="succeeded")
    tasks.run_payments()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    refund = Refund.objects.get(payment=payment)
    assert refund.kind == RefundKind.VOID and refund.status == RefundStatus.SUCCEEDED and refund.amount == 16809
    assert payment.needs_attention and "inventory gone" in payment.attention_reason
    assert ledger_order_balance(order_id=order.pk).status == "balanced"
    assert not Transfer.objects.filter(order=order).exists()


def test_second_successful_attempt_is_voided(client_a, order, tasks):
    from apps.payments.services import payment_create_for_order
    from apps.payments.services.webhooks import webhook_record_simulated

    first = Payment.objects.get(order=order)
    second = payment_create_for_order(order=Order.objects.get(pk=order.pk))
    webhook_record_simulated(payment=first, outcome="succeeded")
    webhook_record_simulated(payment=second, outcome="succeeded")
    tasks.run_payments()
    assert Refund.objects.get().payment == second
    assert Transfer.objects.filter(order=order, status=TransferStatus.SENT).count() == 2
    assert ledger_order_balance(order_id=order.pk).status == "balanced"


def test_payouts_wait_for_onboarding_then_go(client_a, order, tasks, bravo):
    from apps.payments.models import ConnectAccount
    from apps.payments.services.payouts import connect_onboarding_start, connect_simulated_onboarding_complete

    ConnectAccount.objects.filter(exhibitor=bravo).delete()
    _pay(client_a, order, tasks)
    waiting = Transfer.objects.get(order=order, exhibitor=bravo)
    assert waiting.status == TransferStatus.AWAITING_ACCOUNT
    assert ledger_report().unbalanced[0].status == "open"
    account = connect_onboarding_start(exhibitor_id=bravo.pk)
    assert account.onboarding_url and account.status == "pending"  # enabled once onboarding is completed
    connect_simulated_onboarding_complete(account_id=account.pk)
    tasks.run_payments()
    waiting.refresh_from_db()
    assert waiting.status == TransferStatus.SENT and waiting.destination == f"sim_acct_{bravo.pk}"
    assert ledger_report().unbalanced == []


def test_ledger_report_command_lists_mismatches(client_a, order, tasks, capsys):
    _pay(client_a, order, tasks)
    call_command("ledger_report", "--since", "2000-01-01")
    assert "mismatch: 0" in capsys.readouterr().out
    LedgerEntry.objects.create(key="stray", kind="refund", order=order, amount=5, currency="CNY")
    with pytest.raises(Exception, match="do not balance"):
        call_command("ledger_report")
    assert f"MISMATCH order {order.pk}" in capsys.readouterr().out


def test_a_refunded_line_gives_back_the_per_customer_limit(client_a, shopper, tasks, alpha):
    from apps.orders.models import CustomerProductQuota
    from apps.payments.services import payment_create_for_order
    from tests.factories import ProductFactory

    # Given a shopper who bought the whole limit of a limit-2 drop, and paid
    drop = ProductFactory(exhibitor=alpha, collectible=True, edition_size=5, per_customer_limit=2)
    placed = place_order(shopper, (drop, 2))
    payment_create_for_order(order=placed)
    _pay(client_a, placed, tasks)
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 2
    # When the line is refunded (twice: the second is refused and releases nothing more)
    line = placed.lines.get()
    refund_create(order_id=placed.pk, line_ids=[line.pk], actor=None)
    tasks.run_payments()
    with pytest.raises(InvalidState):
        refund_create(order_id=placed.pk, line_ids=[line.pk], actor=None)
    # Then the limit counts only open and paid units again: the shopper may buy 2 more
    assert CustomerProductQuota.objects.get(user=shopper, product=drop).units == 0
    line.refresh_from_db()
    assert line.quota_counted == 0
    assert place_order(shopper, (drop, 2)).status == OrderStatus.PENDING_PAYMENT
