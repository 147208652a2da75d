"""Property: whatever sequence of pay / refund / duplicate event / payout runs, the ledger of
every order balances once payouts settle, and refunds never exceed what was captured."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.payments.models import Payment, Refund, RefundStatus, WebhookEvent
from apps.payments.selectors import ledger_order_balance
from apps.payments.services.payouts import payouts_settle_order
from apps.payments.services.refunds import refund_create
from apps.payments.services.webhooks import webhook_process, webhook_record_simulated
from marketplace.errors import DomainError

STEPS = st.lists(st.one_of(
    st.just(("pay",)), st.just(("duplicate",)), st.just(("payout",)),
    st.tuples(st.just("refund_line"), st.integers(0, 2)),
    st.tuples(st.just("refund_amount"), st.integers(1, 20000)),
), min_size=1, max_size=8)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_ledger_balances_and_refunds_never_exceed_capture(steps, request):
    order = request.getfixturevalue("order")
    tasks = request.getfixturevalue("tasks")
    operator = request.getfixturevalue("operator")
    payment = Payment.objects.get(order=order)
    lines = list(order.lines.order_by("id"))
    for step in steps:
        try:
            if step[0] in ("pay", "duplicate"):
                webhook_record_simulated(payment=payment, outcome="succeeded")
                for pk in WebhookEvent.objects.values_list("pk", flat=True):
                    webhook_process(event_pk=pk, replay=step[0] == "duplicate")
            elif step[0] == "payout":
                payouts_settle_order(order_id=order.pk)
            elif step[0] == "refund_line":
                refund_create(order_id=order.pk, line_ids=[lines[step[1]].pk], actor=operator)
            else:
                refund_create(order_id=order.pk, amount=step[1], actor=operator)
        except DomainError:
            pass
        tasks.run_payments()
        refunded = sum(Refund.objects.filter(payment=payment).exclude(status=RefundStatus.FAILED)
                       .values_list("amount", flat=True))
        assert refunded <= payment.amount
    payouts_settle_order(order_id=order.pk)
    tasks.run_payments()
    balance = ledger_order_balance(order_id=order.pk)
    assert balance.difference == 0, balance
