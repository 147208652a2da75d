"""Eligibility groups: operators verify and revoke memberships (audited, idempotent); nobody else
may; a membership counts while it is valid."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts import services
from apps.accounts.models import EligibilityGroup, EligibilityMembership
from apps.accounts.selectors import user_group_slugs, user_is_member
from marketplace.errors import PermissionDenied
from marketplace.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def seniors():
    return EligibilityGroup.objects.get_or_create(slug="senior", defaults={"name": "Seniors"})[0]


def test_verifying_twice_keeps_one_membership_and_audits_both(operator, shopper, seniors):
    services.eligibility_verify(user=shopper, group=seniors, actor=operator, note="ID card")
    membership = services.eligibility_verify(user=shopper, group=seniors, actor=operator, note="renewed")
    assert EligibilityMembership.objects.filter(user=shopper).count() == 1
    assert membership.note == "renewed"
    assert AuditEvent.objects.filter(object_id=str(membership.pk), name="verify").count() == 2
    assert user_group_slugs(user_id=shopper.pk) == ["senior"]


def test_only_operators_verify_or_revoke(staff_a, shopper, seniors, operator):
    with pytest.raises(PermissionDenied):
        services.eligibility_verify(user=shopper, group=seniors, actor=staff_a)
    with pytest.raises(PermissionDenied):
        services.eligibility_verify(user=shopper, group=seniors, actor=shopper)
    membership = services.eligibility_verify(user=shopper, group=seniors, actor=operator)
    with pytest.raises(PermissionDenied):
        services.eligibility_revoke(membership_id=membership.pk, actor=staff_a)


def test_revoking_is_idempotent_and_ends_the_membership(operator, shopper, seniors):
    membership = services.eligibility_verify(user=shopper, group=seniors, actor=operator)
    assert services.eligibility_revoke(membership_id=membership.pk, actor=operator) is True
    assert services.eligibility_revoke(membership_id=membership.pk, actor=operator) is False
    assert not user_is_member(user_id=shopper.pk, group_id=seniors.pk)


def test_a_membership_counts_until_its_end(operator, shopper, seniors):
    services.eligibility_verify(user=shopper, group=seniors, actor=operator,
                                valid_until=timezone.now() + timedelta(days=1))
    assert user_is_member(user_id=shopper.pk, group_id=seniors.pk)
    assert not user_is_member(user_id=shopper.pk, group_id=seniors.pk, now=timezone.now() + timedelta(days=2))
    assert user_group_slugs(user_id=shopper.pk, now=timezone.now() + timedelta(days=2)) == []
