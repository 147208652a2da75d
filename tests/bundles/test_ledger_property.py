"""Property: for any bundle (price, shares, quantities) ordered with or without a product bought
alone, and any sequence of pay / duplicate event / payout / refund of a line / refund of the whole
bundle / refund of an amount, the ledger of the order balances once payouts settle, refunds never
exceed the capture, and each exhibitor's payout is its lines' total (its share of the bundle)
less what refunds took back from it."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.catalog import services as catalog_services
from apps.catalog.models import Product, ProductKind
from apps.payments.models import Payment, Refund, RefundAllocation, RefundKind, RefundStatus, Transfer, WebhookEvent
from apps.payments.selectors import ledger_order_balance
from apps.payments.services import payment_create_for_order
from apps.payments.services.payouts import payouts_settle_order
from apps.payments.services.refunds import refund_create
from apps.payments.services.webhooks import webhook_process, webhook_record_simulated
from marketplace.errors import DomainError
from tests.factories import ExhibitorFactory, OperatorFactory, ProductFactory, ShopperFactory, add_download_file, place_order
from tests.payments.conftest import onboard

STEP = st.one_of(
    st.just(("pay",)), st.just(("duplicate",)), st.just(("payout",)), st.just(("refund_bundle",)),
    st.tuples(st.just("refund_line"), st.integers(0, 5)),
    st.tuples(st.just("refund_amount"), st.integers(1, 40000)),
)
# Most sequences start paid (a refund of an unpaid order is only refused); some never pay at all.
STEPS = st.one_of(st.lists(STEP, min_size=1, max_size=8),
                  st.lists(STEP, min_size=1, max_size=8).map(lambda steps: [("pay",), *steps]))


@st.composite
def bundles(draw: st.DrawFn) -> dict:
    cuts = sorted(draw(st.lists(st.integers(1, 9_999), min_size=2, max_size=2, unique=True)))
    return {
        "price": draw(st.integers(1, 30000)),
        "shares": [cuts[0], cuts[1] - cuts[0], 10_000 - cuts[1]],
        "quantities": draw(st.lists(st.integers(1, 3), min_size=3, max_size=3)),
        "ordered": draw(st.integers(1, 2)),
        "alone": draw(st.booleans()),
    }


def _setup(spec: dict) -> tuple:
    """Three onboarded exhibitors with a collectible, a download and a pass; the bundle; the order."""
    exhibitors = [ExhibitorFactory(commission_bps=bps) for bps in (1000, 1250, 800)]
    for exhibitor in exhibitors:
        onboard(exhibitor)
    now = timezone.now()
    download = ProductFactory(exhibitor=exhibitors[1], price=1800, stock_total=20)
    add_download_file(download)
    goods = [
        ProductFactory(exhibitor=exhibitors[0], collectible=True, edition_size=10, price=3800),
        download,
        ProductFactory(exhibitor=exhibitors[2], pass_=True, price=6800, stock_total=20,
                       pass_valid_from=now - timedelta(hours=1), pass_valid_until=now + timedelta(days=1)),
    ]
    bundle = catalog_services.product_save(product=Product(exhibitor=exhibitors[0], kind=ProductKind.BUNDLE,
                                                           price=spec["price"], title_en="Bundle"))
    catalog_services.bundle_components_set(bundle=bundle, actor=OperatorFactory(), components=[
        catalog_services.ComponentSpec(product_id=product.pk, quantity=quantity, share_bps=share)
        for product, quantity, share in zip(goods, spec["quantities"], spec["shares"], strict=True)])
    catalog_services.product_set_published(product=bundle, published=True)
    lines = [(bundle, spec["ordered"])] + ([(goods[1], 1)] if spec["alone"] else [])
    order = place_order(ShopperFactory(), *lines)
    payment_create_for_order(order=order)
    return bundle, order, exhibitors


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(spec=bundles(), steps=STEPS)
def test_bundle_ledger_balances_and_payouts_follow_the_shares(spec, steps, request):
    tasks = request.getfixturevalue("tasks")
    operator = request.getfixturevalue("bundle_operator")
    bundle, order, exhibitors = _setup(spec)
    payment = Payment.objects.get(order=order)
    lines = list(order.lines.order_by("id"))
    bundle_line_ids = [line.pk for line in lines if line.bundle_id == bundle.pk]

    # the bundle's lines hold exactly its price, each component within a fen of its share
    assert sum(line.total for line in lines if line.bundle_id) == spec["price"] * spec["ordered"]
    for exhibitor, share in zip(exhibitors, spec["shares"], strict=True):
        got = sum(line.total for line in lines if line.bundle_id and line.exhibitor_id == exhibitor.pk)
        exact = spec["price"] * share / 10_000
        assert exact - 1 < got / spec["ordered"] < exact + 1

    for step in steps:
        try:
            if step[0] in ("pay", "duplicate"):
                webhook_record_simulated(payment=payment, outcome="succeeded")
                for pk in WebhookEvent.objects.filter(object_reference=payment.provider_reference).values_list("pk", flat=True):
                    webhook_process(event_pk=pk, replay=step[0] == "duplicate")
            elif step[0] == "payout":
                payouts_settle_order(order_id=order.pk)
            elif step[0] == "refund_line":
                refund_create(order_id=order.pk, line_ids=[lines[step[1] % len(lines)].pk], actor=operator)
            elif step[0] == "refund_bundle":
                refund_create(order_id=order.pk, line_ids=bundle_line_ids, actor=operator)
            else:
                refund_create(order_id=order.pk, amount=step[1], actor=operator)
        except DomainError as exc:
            event(f"refused {step[0]}: {exc.code}")
        tasks.run_payments()
        refunded = Refund.objects.filter(payment=payment).exclude(status=RefundStatus.FAILED).aggregate(t=Sum("amount"))["t"]
        assert (refunded or 0) <= payment.amount

    payouts_settle_order(order_id=order.pk)
    tasks.run_payments()
    balance = ledger_order_balance(order_id=order.pk)
    assert balance.difference == 0, balance
    order.refresh_from_db()
    event(f"order {order.status}, {Refund.objects.filter(order=order).count()} refund(s)")
    if not Payment.objects.filter(order=order, status="succeeded").exists():
        assert not Transfer.objects.filter(order=order).exclude(gross=0).exists()
        return
    for exhibitor in exhibitors:
        sold = sum(line.total for line in lines if line.exhibitor_id == exhibitor.pk)
        taken_back = (RefundAllocation.objects.filter(refund__order=order, refund__kind=RefundKind.ORDER,
                                                      refund__status=RefundStatus.SUCCEEDED, exhibitor_id=exhibitor.pk)
                      .aggregate(t=Sum("amount"))["t"] or 0)
        transfer = Transfer.objects.get(order=order, exhibitor=exhibitor)
        # sized when sent, then corrected by reversals (each giving back its commission too): what
        # the exhibitor keeps, commission included, is its lines' total less what refunds took back
        reversals = transfer.reversals.aggregate(net=Sum("amount"), commission=Sum("commission_returned"))
        kept = transfer.gross - (reversals["net"] or 0) - (reversals["commission"] or 0)
        assert kept == sold - taken_back, (exhibitor.pk, kept, sold, taken_back)
