"""Exhibitor admin, roles and admin login: staff see their own profile, operators run the expo."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from apps.exhibitors.models import Exhibitor, ExhibitorMembership, ExhibitorStatus
from apps.exhibitors.services import roles_ensure
from tests.factories import PASSWORD, ExhibitorFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(view: str, *args) -> str:
    return reverse(f"admin:exhibitors_exhibitor_{view}", args=args)


# --- login -----------------------------------------------------------------------------------


def test_admin_login_takes_the_email(staff_a):
    # Given the login form, whose username field is the email (USERNAME_FIELD)
    client = Client()
    assert client.get(reverse("admin:login")).context["form"].fields["username"].label.lower().startswith("email")
    # When staff of A log in with their email
    response = client.post(reverse("admin:login"), {"username": "staff@alpha.test", "password": PASSWORD,
                                                    "next": reverse("admin:index")})
    # Then they are in
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_login_refuses_a_wrong_password(staff_a):
    response = Client().post(reverse("admin:login"), {"username": "staff@alpha.test", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


# --- staff -----------------------------------------------------------------------------------


def test_staff_list_only_their_exhibitor(staff_a, exhibitor_a, exhibitor_b):
    response = _client(staff_a).get(_url("changelist"))
    assert [e.pk for e in response.context["cl"].result_list] == [exhibitor_a.pk]


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_exhibitors_profile_answers_404(staff_a, exhibitor_b, view):
    assert _client(staff_a).get(_url(view, exhibitor_b.pk)).status_code == 404


def test_staff_edit_their_profile_but_not_the_operator_fields(staff_a, exhibitor_a):
    # Given staff of A editing A's profile, trying to move booth and change commission and status
    response = _client(staff_a).post(_url("change", exhibitor_a.pk), {
        "name_en": "Alpha Renamed", "name_zh_hans": "阿尔法", "description_en": "We make things.", "contact_email": "hi@alpha.test",
        "hall": "H9", "booth": "Z99", "commission_bps": "0", "status": ExhibitorStatus.SUSPENDED, "slug": "other",
    })
    # Then the profile changed and the operator-only fields did not
    assert response.status_code == 302
    exhibitor_a.refresh_from_db()
    assert (exhibitor_a.name, exhibitor_a.name_zh_hans, exhibitor_a.contact_email) == ("Alpha Renamed", "阿尔法", "hi@alpha.test")
    assert (exhibitor_a.slug, exhibitor_a.hall, exhibitor_a.commission_bps, exhibitor_a.status) == (
        "alpha", "H1", 1000, ExhibitorStatus.APPROVED)


def test_staff_cannot_add_exhibitors(staff_a):
    client = _client(staff_a)
    assert client.get(_url("add")).status_code == 403
    response = client.post(_url("add"), {"slug": "mine", "name": "Mine", "hall": "H2", "booth": "B1", "commission_bps": "0"})
    assert response.status_code == 403
    assert not Exhibitor.objects.filter(slug="mine").exists()


def test_staff_cannot_approve(staff_a, exhibitor_a):
    Exhibitor.objects.filter(pk=exhibitor_a.pk).update(status=ExhibitorStatus.PENDING)
    client = _client(staff_a)
    client.post(_url("changelist"), {"action": "approve", "_selected_action": [exhibitor_a.pk]})
    exhibitor_a.refresh_from_db()
    assert exhibitor_a.status == ExhibitorStatus.PENDING
    action_form = client.get(_url("changelist")).context["action_form"]
    offered = [name for name, _label in action_form.fields["action"].choices] if action_form else []
    assert "approve" not in offered
    assert "suspend" not in offered


@pytest.mark.parametrize("url_name", ["admin:accounts_user_changelist", "admin:accounts_user_add", "admin:auth_group_changelist"])
def test_staff_cannot_reach_user_or_group_admin(staff_a, url_name):
    assert _client(staff_a).get(reverse(url_name)).status_code == 403


def test_staff_cannot_open_a_user_by_url(staff_a, staff_b):
    assert _client(staff_a).get(reverse("admin:accounts_user_change", args=[staff_b.pk])).status_code in (403, 404)


def test_staff_index_lists_catalog_but_not_accounts(staff_a):
    content = _client(staff_a).get(reverse("admin:index")).content.decode()
    assert reverse("admin:catalog_product_changelist") in content
    assert reverse("admin:accounts_user_changelist") not in content


# --- operators -------------------------------------------------------------------------------


def test_operator_approves_a_pending_exhibitor(operator):
    pending = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    response = _client(operator).post(_url("changelist"), {"action": "approve", "_selected_action": [pending.pk]})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == ExhibitorStatus.APPROVED
    assert pending.approved_by == operator
    assert pending.approved_at is not None


def test_operator_suspends_an_exhibitor(operator, exhibitor_b):
    _client(operator).post(_url("changelist"), {"action": "suspend", "_selected_action": [exhibitor_b.pk]})
    exhibitor_b.refresh_from_db()
    assert exhibitor_b.status == ExhibitorStatus.SUSPENDED


def test_operators_group_member_can_approve(exhibitor_a):
    member = UserFactory(is_staff=True)
    member.groups.add(Group.objects.get(name=settings.MARKETPLACE["OPERATORS_GROUP"]))
    pending = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    _client(member).post(_url("changelist"), {"action": "approve", "_selected_action": [pending.pk]})
    pending.refresh_from_db()
    assert pending.status == ExhibitorStatus.APPROVED


def test_operator_adds_an_exhibitor_and_a_member(operator):
    client = _client(operator)
    # The commission is typed as a percentage (8 %) and stored in basis points.
    response = client.post(_url("add"), {"slug": "delta", "name_en": "Delta", "hall": "H2", "booth": "D1",
                                         "commission_bps": "8", "name_zh_hans": "", "description_en": "",
                                         "contact_email": ""})
    assert response.status_code == 302
    delta = Exhibitor.objects.get(slug="delta")
    assert delta.status == ExhibitorStatus.PENDING
    assert delta.commission_bps == 800
    user = UserFactory(email="new@delta.test")
    response = client.post(_url("change", delta.pk), {
        "slug": "delta", "name_en": "Delta", "hall": "H2", "booth": "D1", "commission_bps": "8",
        "name_zh_hans": "", "description_en": "", "contact_email": "",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
        "memberships-0-user": user.pk, "memberships-0-role": "owner",
    })
    assert response.status_code == 302
    user.refresh_from_db()
    assert ExhibitorMembership.objects.filter(exhibitor=delta, user=user, role="owner").exists()
    assert user.is_staff
    assert user.groups.filter(name=settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"]).exists()


def test_operator_pages_render(operator, exhibitor_a):
    client = _client(operator)
    for url in [_url("changelist"), _url("add"), _url("change", exhibitor_a.pk),
                reverse("admin:accounts_user_changelist"), reverse("admin:accounts_user_add"),
                reverse("admin:accounts_user_change", args=[operator.pk])]:
        assert client.get(url).status_code == 200, url


def test_operator_creates_a_user_by_email(operator):
    response = _client(operator).post(reverse("admin:accounts_user_add"), {
        "email": "New.Person@Expo.test", "usable_password": "true",
        "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase"})
    assert response.status_code == 302
    assert UserFactory._meta.model.objects.filter(email="new.person@expo.test").exists()


def test_staff_profile_page_renders(staff_a, exhibitor_a):
    response = _client(staff_a).get(_url("change", exhibitor_a.pk))
    assert response.status_code == 200
    # Staff read the commission (not editable) as a percentage.
    assert "commission" in response.context["adminform"].readonly_fields
    assert "10 %" in response.content.decode()


# --- roles -----------------------------------------------------------------------------------


def _codenames(group_name: str) -> set[str]:
    return set(Group.objects.get(name=group_name).permissions.values_list("content_type__app_label", "codename"))


def test_roles_exist_after_migrate_with_the_right_permissions():
    staff = _codenames(settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"])
    assert {("catalog", f"{a}_product") for a in ("view", "add", "change", "delete")} <= staff
    assert {("catalog", "view_edition"), ("catalog", "change_edition")} <= staff
    assert ("catalog", "add_edition") not in staff
    assert {("exhibitors", "view_exhibitor"), ("exhibitors", "change_exhibitor")} <= staff
    assert ("exhibitors", "add_exhibitor") not in staff
    assert not [p for p in staff if p[0] == "accounts"]
    operators = _codenames(settings.MARKETPLACE["OPERATORS_GROUP"])
    assert {("exhibitors", "add_exhibitor"), ("accounts", "change_user"), ("catalog", "delete_product")} <= operators


def test_roles_ensure_is_idempotent_and_repairs_drift():
    staff_group = Group.objects.get(name=settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"])
    before = _codenames(staff_group.name)
    staff_group.permissions.clear()
    roles_ensure()
    roles_ensure()
    assert _codenames(staff_group.name) == before
    assert Group.objects.filter(name__in=[settings.MARKETPLACE["OPERATORS_GROUP"], staff_group.name]).count() == 2
