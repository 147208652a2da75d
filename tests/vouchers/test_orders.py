"""A voucher on an order: applied with the hold, refused when it does not apply (nothing held),
given back by cancel and expiry while valid, used when paid, taken again by a late payment."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.catalog.models import ProductKind
from apps.orders.models import OrderStatus
from apps.payments.models import Payment, Refund, RefundKind
from apps.payments.services.orders import order_cancel_with_payment, orders_expire_due
from apps.vouchers import services
from apps.vouchers.errors import VoucherNotApplicable
from apps.vouchers.models import Redemption, RedemptionStatus, Voucher, VoucherStatus
from marketplace.models import AuditEvent
from tests.factories import ProductFactory, ShopperFactory
from tests.vouchers.conftest import make_campaign
from tests.vouchers.helpers import balance, checkout, ledger, pay

# Payment and payouts run their after-commit steps: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def voucher(campaign, shopper):
    return services.voucher_claim(campaign=campaign, user=shopper)


def _status(voucher) -> str:
    return Voucher.objects.values_list("status", flat=True).get(pk=voucher.pk)


def test_an_order_with_a_voucher_carries_the_discount_and_takes_the_voucher(shopper, voucher, pass_a, tasks):
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    assert (order.subtotal, order.discount, order.total) == (3000, 1000, 2000)
    assert Payment.objects.get(order=order).amount == 2000  # the shopper pays the discounted total
    assert _status(voucher) == VoucherStatus.APPLIED
    redemption = Redemption.objects.get(order=order)
    assert redemption.status == RedemptionStatus.APPLIED
    assert redemption.exhibitor_shares == {str(pass_a.exhibitor_id): 1000}
    assert AuditEvent.objects.filter(object_id=str(voucher.pk), name="apply").exists()


@pytest.mark.parametrize("case", ["below_minimum", "foreign", "used", "other_currency", "out_of_scope", "expired"])
def test_a_voucher_that_does_not_apply_is_refused_and_nothing_is_held(case, operator, shopper, voucher, pass_a, download_b,
                                                                      tasks):
    lines = [(pass_a, 2)]
    target = voucher
    if case == "below_minimum":
        lines = [(pass_a, 1)]  # 15.00 < 20.00
    elif case == "foreign":
        target = services.voucher_claim(campaign=voucher.campaign, user=ShopperFactory())
    elif case == "used":
        checkout(shopper, (pass_a, 2), voucher=voucher)
    elif case == "other_currency":
        usd = make_campaign(actor=operator, slug="usd", currency="USD")
        target = services.voucher_claim(campaign=usd, user=shopper)
    elif case == "out_of_scope":
        scoped = make_campaign(actor=operator, slug="bravo-only", scope_exhibitors=[download_b.exhibitor])
        target = services.voucher_claim(campaign=scoped, user=shopper)
    elif case == "expired":
        Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    held_before = pass_a.__class__.objects.get(pk=pass_a.pk).stock_taken
    orders_before = shopper.orders.count()
    with pytest.raises(VoucherNotApplicable) as caught:
        checkout(shopper, *lines, voucher=target)
    assert (caught.value.code, caught.value.status_code) == ("voucher_not_applicable", 409)
    assert shopper.orders.count() == orders_before
    assert pass_a.__class__.objects.get(pk=pass_a.pk).stock_taken == held_before


def test_the_scope_counts_only_goods_it_covers_towards_the_minimum_and_the_split(operator, shopper, pass_a, download_b,
                                                                               tasks):
    campaign = make_campaign(actor=operator, slug="passes", scope_kinds=[ProductKind.PASS], min_spend=2500)
    voucher = services.voucher_claim(campaign=campaign, user=shopper)
    with pytest.raises(VoucherNotApplicable):  # 15.00 of passes + 9.99 of a download: 15.00 counts
        checkout(shopper, (pass_a, 1), (download_b, 1), voucher=voucher)
    order = checkout(shopper, (pass_a, 2), (download_b, 1), voucher=voucher)
    assert order.discount == 1000
    assert Redemption.objects.get(order=order).exhibitor_shares == {str(pass_a.exhibitor_id): 1000}


def test_the_discount_splits_over_exhibitors_in_proportion_and_exactly(operator, shopper, pass_a, download_b, tasks):
    voucher = services.voucher_claim(campaign=make_campaign(actor=operator, slug="all", face_value=1001, budget=1001,
                                                            min_spend=2000), user=shopper)
    order = checkout(shopper, (pass_a, 1), (download_b, 1), voucher=voucher)  # 15.00 + 9.99
    shares = Redemption.objects.get(order=order).exhibitor_shares
    assert sum(shares.values()) == 1001
    assert shares == {str(pass_a.exhibitor_id): 601, str(download_b.exhibitor_id): 400}


def test_cancel_gives_a_valid_voucher_back_and_it_serves_another_order(shopper, voucher, pass_a, tasks):
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    order_cancel_with_payment(order_id=order.pk, actor=shopper)
    order_cancel_with_payment(order_id=order.pk, actor=shopper)  # called twice: nothing more happens
    assert _status(voucher) == VoucherStatus.AVAILABLE
    redemption = Redemption.objects.get(order=order)
    assert redemption.status == RedemptionStatus.RELEASED
    # the redemption's change has its one audit row, even though cancel ran twice
    trail = AuditEvent.objects.filter(content_type__model="redemption", object_id=str(redemption.pk))
    assert list(trail.values_list("from_state", "to_state")) == [(RedemptionStatus.APPLIED, RedemptionStatus.RELEASED)]
    again = checkout(shopper, (pass_a, 2), voucher=voucher)
    assert again.discount == 1000


def test_expiry_after_the_vouchers_validity_expires_it_and_returns_its_value_to_a_pooled_campaign(operator, shopper, pass_a,
                                                                                                  tasks):
    campaign = make_campaign(actor=operator, slug="pooled", budget=1000, returns_to_pool=True)
    voucher = services.voucher_claim(campaign=campaign, user=shopper)
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    later = max(order.expires_at, voucher.expires_at) + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert orders_expire_due() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert _status(voucher) == VoucherStatus.EXPIRED
    campaign.refresh_from_db()
    assert campaign.remaining == 1


def test_expiry_within_validity_gives_the_voucher_back(shopper, voucher, pass_a, tasks):
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    assert orders_expire_due(now=order.expires_at + timedelta(minutes=1)) == 1
    assert _status(voucher) == VoucherStatus.AVAILABLE


def test_payment_uses_the_voucher_writes_the_subsidy_and_pays_the_exhibitor_on_the_full_price(shopper, voucher, pass_a, tasks):
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    order = pay(order, tasks)
    assert order.status == OrderStatus.PAID
    assert _status(voucher) == VoucherStatus.USED
    kinds = ledger(order)
    # 30.00 of goods: the shopper paid 20.00, the platform 10.00; Alpha gets 30.00 less 10 % commission.
    assert kinds == {"capture": 2000, "subsidy": 1000, "transfer": 2700, "commission": 300}
    assert balance(order) == 0
    from apps.payments.models import WebhookEvent
    from apps.payments.services.webhooks import webhook_process

    for event_pk in WebhookEvent.objects.values_list("pk", flat=True):  # duplicate events: never a second subsidy
        webhook_process(event_pk=event_pk, replay=True)
    tasks.run_payments()
    assert ledger(order)["subsidy"] == 1000


def test_a_late_payment_takes_the_voucher_again(shopper, voucher, pass_a, tasks):
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    payment = Payment.objects.get(order=order)
    orders_expire_due(now=order.expires_at + timedelta(minutes=1))
    assert _status(voucher) == VoucherStatus.AVAILABLE
    from apps.payments.providers import PaymentState
    from apps.payments.services.payments import payment_apply_state

    outcome = payment_apply_state(payment_id=payment.pk, state=PaymentState(
        reference=payment.provider_reference or "", status="succeeded", amount=2000, currency="CNY",
        charge_reference="ch_late"))
    assert outcome == "paid_late"
    assert _status(voucher) == VoucherStatus.USED
    assert ledger(order)["subsidy"] == 1000


def test_a_late_payment_whose_voucher_went_to_another_order_is_refunded(shopper, voucher, pass_a, tasks):
    order = checkout(shopper, (pass_a, 2), voucher=voucher)
    payment = Payment.objects.get(order=order)
    orders_expire_due(now=order.expires_at + timedelta(minutes=1))
    checkout(shopper, (pass_a, 2), voucher=voucher)  # the voucher now serves a new order
    from apps.payments.providers import PaymentState
    from apps.payments.services.payments import payment_apply_state

    outcome = payment_apply_state(payment_id=payment.pk, state=PaymentState(
        reference=payment.provider_reference or "", status="succeeded", amount=2000, currency="CNY",
        charge_reference="ch_late"))
    assert outcome == "voided_inventory_gone"
    assert Refund.objects.filter(payment=payment, kind=RefundKind.VOID).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert "subsidy" not in ledger(order)


def test_a_voucher_adds_the_same_few_queries_to_a_placement_whatever_its_size(operator, shopper, pass_a, download_b, tasks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.orders.services import LineRequest, order_place

    campaign = make_campaign(actor=operator, slug="many", per_customer_limit=4)
    more = [ProductFactory(exhibitor=pass_a.exhibitor, kind="pass", price=500) for _ in range(5)]

    def count(products, voucher_id=None) -> int:
        with CaptureQueriesContext(connection) as queries:
            order_place(user=shopper, lines=[LineRequest(product_id=p.pk, quantity=1) for p in products], voucher_id=voucher_id)
        return len(queries)

    small, large = [pass_a, download_b], [pass_a, download_b, *more]
    count(small, services.voucher_claim(campaign=campaign, user=shopper).pk)  # warm the content-type cache of the audit
    extra_small = count(small, services.voucher_claim(campaign=campaign, user=shopper).pk) - count(small)
    extra_large = count(large, services.voucher_claim(campaign=campaign, user=shopper).pk) - count(large)
    assert extra_small == extra_large
    assert extra_small <= 10
