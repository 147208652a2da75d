"""The demo expo's voucher campaigns (API.md "Demo expo (additions)") and the settlement report
of a demo campaign after a paid, a refunded and a cancelled order (`manage.py voucher_settlement`)."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.catalog.management.demo import SHOPPER_EMAIL
from apps.catalog.models import Product
from apps.payments.services.orders import order_cancel_with_payment
from apps.payments.services.refunds import refund_remaining
from apps.vouchers import services
from apps.vouchers.demo import SENIOR_EMAIL, demo_vouchers
from apps.vouchers.errors import NotEligible
from apps.vouchers.models import Campaign
from tests.factories import ShopperFactory
from tests.payments.conftest import onboard
from tests.vouchers.helpers import checkout, pay

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_the_demo_has_a_running_campaign_and_an_eligibility_restricted_one_and_settles(tasks):
    call_command("load_demo", stdout=StringIO())
    assert demo_vouchers() == {"campaigns": 0, "accounts": 0}  # loaded by load_demo already; a second load adds nothing
    running = Campaign.objects.get(slug="demo-vouchers")
    senior = Campaign.objects.get(slug="demo-senior-vouchers")
    assert (running.funder_kind, running.quantity, running.face_value, running.min_spend, running.per_customer_limit) == (
        "platform", 50, 1000, 2000, 1)
    assert senior.eligibility.slug == "senior"
    shopper = User.objects.get(email=SHOPPER_EMAIL)
    with pytest.raises(NotEligible):
        services.voucher_claim(campaign=senior, user=shopper)
    assert services.voucher_claim(campaign=senior, user=User.objects.get(email=SENIOR_EMAIL))

    # A paid order, a refunded one and a cancelled one with demo vouchers.
    product = Product.objects.filter(kind="pass", is_published=True, price__gte=2000, currency="CNY").order_by("pk").first()
    onboard(product.exhibitor)
    buyers = [shopper, ShopperFactory(), ShopperFactory()]
    vouchers = [services.voucher_claim(campaign=running, user=buyer) for buyer in buyers]
    kept = pay(checkout(buyers[0], (product, 1), voucher=vouchers[0]), tasks)
    refunded = pay(checkout(buyers[1], (product, 1), voucher=vouchers[1]), tasks)
    refund_remaining(order_id=refunded.pk, actor=None)
    tasks.run_payments()
    cancelled = checkout(buyers[2], (product, 1), voucher=vouchers[2])
    order_cancel_with_payment(order_id=cancelled.pk, actor=buyers[2])
    assert kept.status == "paid"

    out = StringIO()
    call_command("voucher_settlement", "--campaign", "demo-vouchers", stdout=out)
    report = out.getvalue()
    print(report)
    assert "Funder: Expo platform (platform)" in report
    assert "issued 50, claimed 3, redeemed 2" in report
    assert f"owed to {product.exhibitor.name}: CNY 10.00 (2 orders; paid CNY 20.00, returned by refunds CNY 10.00)" in report
    assert "ledger of its orders: 2 balanced, 0 open (payouts waiting), 0 mismatch" in report
