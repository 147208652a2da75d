"""Entitlement revocation writes one audit row per unit it revokes (the kernel's transition audit)."""

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.fulfilment import services
from apps.fulfilment.models import Entitlement, EntitlementStatus
from marketplace.models import AuditEvent
from tests.factories import paid_order

pytestmark = pytest.mark.django_db


def _revokes() -> list[tuple[str, str, str, str]]:
    rows = AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(Entitlement)).order_by("id")
    return [(e.object_id, e.from_state, e.to_state, e.reason) for e in rows]


def test_revoking_twice_writes_one_audit_row_per_unit(shopper, ebook):
    order = paid_order(shopper, (ebook, 2))
    services.fulfilment_fulfil_order(order_id=order.pk)
    line_ids = list(order.lines.values_list("pk", flat=True))

    assert services.entitlements_revoke_lines(order_line_ids=line_ids, reason="refund") == 2
    assert services.entitlements_revoke_lines(order_line_ids=line_ids, reason="refund") == 0  # twice: nothing

    units = sorted(str(pk) for pk in Entitlement.objects.filter(order=order).values_list("pk", flat=True))
    assert sorted(_revokes()) == [(pk, EntitlementStatus.ACTIVE, EntitlementStatus.REVOKED, "refund") for pk in units]


def test_revoking_units_never_fulfilled_audits_their_revoked_stubs(shopper, ebook):
    order = paid_order(shopper, (ebook, 1))
    line_ids = list(order.lines.values_list("pk", flat=True))

    assert services.entitlements_revoke_lines(order_line_ids=line_ids, reason="refund") == 1

    stub = Entitlement.objects.get(order=order)
    assert _revokes() == [(str(stub.pk), "", EntitlementStatus.REVOKED, "refund")]
