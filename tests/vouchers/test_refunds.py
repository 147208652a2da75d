"""Refunds of an order bought with a voucher: the shopper gets back what they paid for the refunded
part, exhibitors give back the goods' value, the funder gets its subsidy back; the ledger balances
per order and per campaign, and a funder's subsidy is never paid twice (a hypothesis property)."""

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.payments.models import LedgerEntry, Payment, Refund, RefundStatus, WebhookEvent
from apps.payments.services.payouts import payouts_settle_order
from apps.payments.services.refunds import refund_create, refund_remaining
from apps.payments.services.webhooks import webhook_process, webhook_record_simulated
from apps.payments.settlement import voucher_settlement
from apps.vouchers import services
from apps.vouchers.models import RefundRule, Voucher, VoucherStatus
from marketplace.errors import DomainError
from tests.factories import OperatorFactory, ProductFactory, ShopperFactory
from tests.vouchers.conftest import make_campaign
from tests.vouchers.helpers import balance, checkout, ledger, pay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_exhibitor_order(operator, shopper, pass_a, download_b, tasks):
    """30.00 of Alpha's passes and 9.99 of Bravo's download, 10.00 off: the shopper pays 29.99."""
    voucher = services.voucher_claim(campaign=make_campaign(actor=operator), user=shopper)
    order = pay(checkout(shopper, (pass_a, 2), (download_b, 1), voucher=voucher), tasks)
    return order, voucher


def test_a_full_refund_gives_the_shopper_what_they_paid_and_the_funder_its_subsidy(two_exhibitor_order, operator, tasks):
    order, voucher = two_exhibitor_order
    assert ledger(order)["subsidy"] == 1000
    refund = refund_remaining(order_id=order.pk, actor=operator)
    tasks.run_payments()
    assert refund.amount == 2999
    kinds = ledger(order)
    assert kinds["refund"] == 2999
    assert kinds["subsidy"] == 0  # 10.00 paid, 10.00 given back
    assert balance(order) == 0
    # The campaign's rule (default: return_voucher): the still-valid voucher is the shopper's again.
    assert Voucher.objects.get(pk=voucher.pk).status == VoucherStatus.AVAILABLE


def test_a_forfeit_campaign_keeps_the_voucher_used_after_a_full_refund(operator, shopper, pass_a, tasks):
    campaign = make_campaign(actor=operator, slug="forfeit", refund_rule=RefundRule.FORFEIT)
    voucher = services.voucher_claim(campaign=campaign, user=shopper)
    order = pay(checkout(shopper, (pass_a, 2), voucher=voucher), tasks)
    refund_remaining(order_id=order.pk, actor=operator)
    tasks.run_payments()
    assert Voucher.objects.get(pk=voucher.pk).status == VoucherStatus.USED
    assert balance(order) == 0


def test_a_line_refund_splits_into_the_shoppers_money_and_the_funders_subsidy(two_exhibitor_order, operator, tasks):
    order, _voucher = two_exhibitor_order
    bravo_line = order.lines.get(product__kind="download")
    refund = refund_create(order_id=order.pk, line_ids=[bravo_line.pk], actor=operator)
    tasks.run_payments()
    allocation = refund.allocations.get()
    # Bravo's 9.99 carried 2.50 of the discount (999 of 3999 → 249.81 → 250 by largest remainder).
    assert (allocation.amount, allocation.subsidy, refund.amount) == (999, 250, 749)
    assert ledger(order)["subsidy"] == 750
    assert balance(order) == 0


def test_an_amount_refund_adds_up_exactly(two_exhibitor_order, operator, tasks):
    order, _voucher = two_exhibitor_order
    refund = refund_create(order_id=order.pk, amount=1000, actor=operator)
    tasks.run_payments()
    allocations = list(refund.allocations.all())
    assert sum(a.amount - a.subsidy for a in allocations) == 1000
    assert balance(order) == 0
    with pytest.raises(DomainError):
        refund_create(order_id=order.pk, amount=2999 - 1000 + 1, actor=operator)  # more than is left


STEPS = st.lists(st.one_of(
    st.just(("pay",)), st.just(("duplicate",)), st.just(("payout",)),
    st.tuples(st.just("refund_line"), st.integers(0, 2)),
    st.tuples(st.just("refund_amount"), st.integers(1, 6000)),
), min_size=1, max_size=8)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS, face=st.sampled_from([100, 1000, 1999, 2999]))
def test_ledger_balances_per_order_and_campaign_and_a_subsidy_is_never_paid_twice(steps, face, request):
    # Each example buys a fresh order of its own (hypothesis reuses the test's database).
    tasks = request.getfixturevalue("tasks")
    operator = OperatorFactory()
    shopper = ShopperFactory()
    alpha, bravo = request.getfixturevalue("alpha"), request.getfixturevalue("bravo")
    products = [ProductFactory(exhibitor=alpha, kind="pass", price=1500), ProductFactory(exhibitor=alpha, kind="download", price=1333),
                ProductFactory(exhibitor=bravo, kind="download", price=2001)]
    campaign = make_campaign(actor=operator, slug=f"p-{shopper.pk}", face_value=face, min_spend=3000, budget=face * 5)
    voucher = services.voucher_claim(campaign=campaign, user=shopper)
    order = checkout(shopper, *((p, 1) for p in products), voucher=voucher)
    assert order.total == 4834 - face
    lines = list(order.lines.order_by("id"))
    payment = Payment.objects.get(order=order)
    for step in steps:
        try:
            if step[0] in ("pay", "duplicate"):
                webhook_record_simulated(payment=payment, outcome="succeeded")
                for pk in WebhookEvent.objects.filter(object_reference=payment.provider_reference).values_list("pk", flat=True):
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
        refunded = (Refund.objects.filter(payment=payment).exclude(status=RefundStatus.FAILED)
                    .aggregate(t=Sum("amount"))["t"] or 0)
        assert refunded <= payment.amount
        subsidy = LedgerEntry.objects.filter(order=order, kind="subsidy")
        paid = subsidy.filter(amount__gt=0).aggregate(t=Sum("amount"))["t"] or 0
        returned = -(subsidy.filter(amount__lt=0).aggregate(t=Sum("amount"))["t"] or 0)
        assert paid in (0, face)  # written once, whole, or not at all
        assert 0 <= returned <= paid
    payouts_settle_order(order_id=order.pk)
    tasks.run_payments()
    assert balance(order) == 0, ledger(order)
    # Per campaign: the settlement's subsidy owed is the ledger's net subsidy, and its orders balance.
    report = voucher_settlement(campaign_ids=[campaign.pk])[0]
    net = LedgerEntry.objects.filter(order=order, kind="subsidy").aggregate(t=Sum("amount"))["t"] or 0
    assert report.subsidy_owed == net
    assert report.orders_mismatched == 0


def test_the_admins_refund_page_shows_what_the_shopper_gets_back_with_a_voucher(two_exhibitor_order, bravo, tasks):
    """Exhibitor staff refunding their line see the shopper's figure (the line less the voucher's
    subsidy on it), the same amount the refund then sends, not the line's undiscounted price."""
    from django.test import Client
    from django.urls import reverse

    from tests.factories import staff_of

    order, _voucher = two_exhibitor_order
    bravo_line = order.lines.get(product__kind="download")
    client = Client()
    client.force_login(staff_of(bravo))
    page = client.get(f"{reverse('admin:orders_orderline_refund')}?ids={bravo_line.pk}").content.decode()
    assert "CNY 7.49" in page and "CNY 9.99" in page  # the line's price listed, the shopper's 7.49 as the amount
    client.post(reverse("admin:orders_orderline_refund"), {"ids": str(bravo_line.pk), "confirm": "yes"})
    tasks.run_payments()
    assert Refund.objects.get(order=order).amount == 749
