from django.conf import settings

from apps.exhibitors import services
from apps.exhibitors.models import ExhibitorMembership, ExhibitorStatus
from tests.factories import ExhibitorFactory, UserFactory, staff_of


def test_member_add_is_idempotent_and_grants_admin_login(exhibitor_a):
    user = UserFactory()
    first = services.exhibitor_member_add(exhibitor=exhibitor_a, user=user)
    second = services.exhibitor_member_add(exhibitor=exhibitor_a, user=user)
    user.refresh_from_db()
    assert first.pk == second.pk
    assert user.is_staff
    assert user.groups.filter(name=settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"]).exists()


def test_member_remove_revokes_scope_and_admin_login_when_no_membership_is_left(exhibitor_a, exhibitor_b):
    # Given staff of two exhibitors
    user = staff_of(exhibitor_a)
    services.exhibitor_member_add(exhibitor=exhibitor_b, user=user)
    # When removed from A, they keep admin access for B
    services.exhibitor_member_remove(membership=ExhibitorMembership.objects.get(user=user, exhibitor=exhibitor_a))
    user.refresh_from_db()
    assert user.is_staff
    # And when removed from B too, admin login and the staff group are gone
    membership_b = ExhibitorMembership.objects.get(user=user, exhibitor=exhibitor_b)
    services.exhibitor_member_remove(membership=membership_b)
    services.exhibitor_member_remove(membership=membership_b)  # twice: a no-op
    user.refresh_from_db()
    assert not user.is_staff
    assert not user.groups.exists()


def test_approve_twice_is_a_no_op(operator):
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    first = services.exhibitor_approve(exhibitor=exhibitor, by=operator)
    second = services.exhibitor_approve(exhibitor=exhibitor, by=operator)
    assert first.status == second.status == ExhibitorStatus.APPROVED
    assert first.approved_at == second.approved_at


def test_admin_login_matches_email_case_insensitively(client, staff_a):
    response = client.post("/admin/login/", {"username": "STAFF@Alpha.test", "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
