"""A bundle's money and goods: paid once, each exhibitor paid out its share (less its commission),
refunds reversed by share, each component delivered as its own kind."""

import pytest
from django.db.models import Sum

from apps.fulfilment import services as fulfilment
from apps.fulfilment.models import Entitlement
from apps.orders.models import OrderStatus
from apps.payments.models import RefundAllocation, Transfer, TransferReversal, TransferStatus
from apps.payments.selectors import ledger_order_balance
from apps.payments.services import payment_create_for_order
from apps.payments.services.refunds import refund_create, refund_remaining
from marketplace.errors import NotFound
from tests.factories import place_order, staff_of

# transaction=True: on_commit hooks (task enqueueing) must really fire mid-test.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid(client_a, shopper, trio, tasks):
    """The trio bundle, ordered and paid through the simulated provider (payouts sent)."""
    order = place_order(shopper, (trio, 1))
    payment_create_for_order(order=order)
    assert client_a.post(f"/api/v1/orders/{order.pk}/payment/simulate", {"outcome": "succeeded"}, format="json").status_code == 202
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order


def _transfers(order) -> dict[int, tuple[int, int, int]]:
    return {t.exhibitor_id: (t.gross, t.commission, t.amount) for t in Transfer.objects.filter(order=order)}


def _kept(order) -> dict[int, int]:
    """What each exhibitor keeps of its payout after sent reversals."""
    reversed_ = dict(TransferReversal.objects.filter(transfer__order=order, status=TransferStatus.SENT)
                     .values_list("transfer__exhibitor_id").annotate(total=Sum("amount")))
    return {t.exhibitor_id: t.amount - reversed_.get(t.exhibitor_id, 0) for t in Transfer.objects.filter(order=order)}


def test_each_exhibitor_is_paid_its_share_less_its_commission(paid, alpha, bravo, charlie):
    # 118.00 split 28 / 21 / 51 %: 33.04 (10 % commission), 24.78 (12.5 %), 60.18 (8 %)
    assert _transfers(paid) == {
        alpha.pk: (3304, 330, 2974),
        bravo.pk: (2478, 310, 2168),
        charlie.pk: (6018, 481, 5537),
    }
    assert {t.status for t in Transfer.objects.filter(order=paid)} == {TransferStatus.SENT}
    balance = ledger_order_balance(order_id=paid.pk)
    assert (balance.capture, balance.transfer, balance.commission) == (11800, 2974 + 2168 + 5537, 330 + 310 + 481)
    assert balance.difference == 0


def test_a_full_refund_reverses_every_share(paid, tasks, bundle_operator, alpha, bravo, charlie):
    refund_remaining(order_id=paid.pk, actor=bundle_operator)
    tasks.run_payments()

    allocations = dict(RefundAllocation.objects.filter(refund__order=paid).values_list("exhibitor_id", "amount"))
    assert allocations == {alpha.pk: 3304, bravo.pk: 2478, charlie.pk: 6018}
    assert _kept(paid) == {alpha.pk: 0, bravo.pk: 0, charlie.pk: 0}
    paid.refresh_from_db()
    assert paid.status == OrderStatus.REFUNDED
    assert ledger_order_balance(order_id=paid.pk).difference == 0


def test_an_amount_refund_is_shared_in_proportion(paid, tasks, bundle_operator, alpha, bravo, charlie):
    refund_create(order_id=paid.pk, actor=bundle_operator, amount=1180)  # a tenth
    tasks.run_payments()

    allocations = dict(RefundAllocation.objects.filter(refund__order=paid).values_list("exhibitor_id", "amount"))
    assert sum(allocations.values()) == 1180
    assert allocations == {alpha.pk: 330, bravo.pk: 248, charlie.pk: 602}  # 330.4, 247.8, 601.8
    assert _transfers(paid)[bravo.pk][0] == 2478
    assert ledger_order_balance(order_id=paid.pk).difference == 0


def test_an_exhibitor_refunds_only_its_own_component_line(paid, tasks, bravo, charlie, guide):
    staff = staff_of(bravo, email="staff@bravo.bundles.test")
    own = paid.lines.get(product=guide)
    foreign = paid.lines.exclude(exhibitor=bravo).first()

    with pytest.raises(NotFound):
        refund_create(order_id=paid.pk, actor=staff, line_ids=[foreign.pk])
    refund_create(order_id=paid.pk, actor=staff, line_ids=[own.pk])
    tasks.run_payments()

    kept = _kept(paid)
    assert kept[bravo.pk] == 0
    assert kept[charlie.pk] == 5537
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PARTIALLY_REFUNDED
    assert ledger_order_balance(order_id=paid.pk).difference == 0


def test_each_component_is_delivered_as_its_own_kind(paid, client_a, badge, guide, vip_pass, alpha, bravo, charlie):
    fulfilment.fulfilment_fulfil_order(order_id=paid.pk)

    units = {(e.kind, e.product_id, e.exhibitor_id) for e in Entitlement.objects.filter(order=paid)}
    assert units == {("collectible", badge.pk, alpha.pk), ("download", guide.pk, bravo.pk), ("pass", vip_pass.pk, charlie.pk)}
    library = client_a.get("/api/v1/library/").json()["results"]
    by_kind = {item["kind"]: item for item in library}
    assert set(by_kind) == {"collectible", "download", "pass"}
    assert by_kind["collectible"]["edition"]["edition_size"] == 3
    assert by_kind["download"]["download"]["url"]
    assert by_kind["pass"]["pass"]["token"]
    paid.refresh_from_db()
    assert paid.status == OrderStatus.FULFILLED
