"""Gifts racing on real Postgres: threads released together by a barrier, each on its own connection."""

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress

from apps.fulfilment.models import Entitlement, EntitlementStatus, Gift
from apps.fulfilment.services import entitlement_transfer, entitlements_revoke_lines, fulfilment_fulfil_order
from tests.factories import ExhibitorFactory, ProductFactory, ShopperFactory, paid_order
from tests.orders.test_races import run_together

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_holding_period(settings):
    settings.FULFILMENT = {**settings.FULFILMENT, "GIFT_HOLD_FIRST": timedelta(0), "GIFT_HOLD_AFTER_TRANSFER": timedelta(0)}


def verified(email: str) -> Any:
    user = ShopperFactory(email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def outcome(result: Any) -> str:
    return getattr(result, "code", repr(result)) if isinstance(result, Exception) else "ok"


def owned_item() -> Entitlement:
    drop = ProductFactory(exhibitor=ExhibitorFactory(), collectible=True, edition_size=2)
    order = paid_order(ShopperFactory(), (drop, 1))
    [item] = fulfilment_fulfil_order(order_id=order.pk)
    return item


def test_two_gifts_of_one_item_at_once_exactly_one_wins():
    item = owned_item()
    recipients = [verified(f"r{n}@shopper.test") for n in range(8)]

    results = run_together([lambda r=r: entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=r.email)
                            for r in recipients])

    assert Counter(outcome(r) for r in results) == {"ok": 1, "invalid_state": 7}
    assert Gift.objects.count() == 1
    assert Entitlement.objects.filter(order_line_id=item.order_line_id, status=EntitlementStatus.ACTIVE).count() == 1


def test_a_gift_racing_a_refund_leaves_nothing_active():
    item = owned_item()
    friend = verified("friend@shopper.test")

    results = run_together([
        lambda: entitlement_transfer(entitlement_id=item.pk, user=item.user, to_email=friend.email),
        lambda: entitlements_revoke_lines(order_line_ids=[item.order_line_id], reason="refund"),
    ])

    assert outcome(results[0]) in {"ok", "invalid_state"}
    assert results[1] == 1  # the unit is revoked once, from whoever holds it
    rows = Entitlement.objects.filter(order_line_id=item.order_line_id)
    assert not rows.filter(status=EntitlementStatus.ACTIVE).exists()
    assert rows.filter(status=EntitlementStatus.REVOKED).count() == 1
