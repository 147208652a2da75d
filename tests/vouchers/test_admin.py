"""Vouchers in the admin: operators create campaigns of any funder (money typed in major units)
and verify eligibility; exhibitor staff create campaigns only for their own goods, see only theirs
(another exhibitor's answers 404); the settlement report page lists what is owed."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import EligibilityMembership
from apps.exhibitors.services import roles_ensure
from apps.vouchers.models import Campaign, FunderKind
from marketplace.models import AuditEvent
from tests.factories import ProductFactory, ShopperFactory
from tests.vouchers.conftest import make_campaign

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _errors(response) -> str:
    context = response.context or {}
    form = context.get("adminform")
    return str(form.form.errors if form else response.status_code) + str([str(m) for m in context.get("messages", [])])


def _form(**fields):
    now = timezone.localtime()
    data = {
        "title_en": "Spring 10 off 20", "title_zh_hans": "春季满20减10", "slug": "spring", "is_active": "on", "funder_kind": "public",
        "funder_name": "City Commerce Bureau", "currency": "CNY", "face_value": "10.00", "min_spend": "20.00",
        "budget": "500.00", "claim_starts_at_0": now.strftime("%Y-%m-%d"), "claim_starts_at_1": "00:00:00",
        "claim_ends_at_0": (now + timedelta(days=10)).strftime("%Y-%m-%d"), "claim_ends_at_1": "00:00:00",
        "per_customer_limit": "1", "valid_days": "7", "refund_rule": "return_voucher",
    }
    data.update(fields)
    return data


def test_an_operator_creates_a_public_bodys_campaign_in_major_units(operator):
    response = _client(operator).post(reverse("admin:vouchers_campaign_add"), _form())
    assert response.status_code == 302, _errors(response)
    campaign = Campaign.objects.get(slug="spring")
    assert (campaign.face_value, campaign.min_spend, campaign.budget, campaign.quantity) == (1000, 2000, 50000, 50)
    assert (campaign.funder_kind, campaign.created_by) == (FunderKind.PUBLIC, operator)
    assert AuditEvent.objects.filter(object_id=str(campaign.pk), name="create").exists()
    page = _client(operator).get(reverse("admin:vouchers_campaign_changelist"))
    assert "Spring 10 off 20" in page.content.decode()


def test_exhibitor_staff_fund_campaigns_for_their_own_goods_only(staff_a, exhibitor_a, exhibitor_b):
    roles_ensure()
    own = ProductFactory(exhibitor=exhibitor_a, title="Alpha Pass")
    foreign = ProductFactory(exhibitor=exhibitor_b, title="Bravo Secret")
    client = _client(staff_a)
    page = client.get(reverse("admin:vouchers_campaign_add"))
    assert page.status_code == 200
    assert "Alpha Pass" in page.content.decode()
    assert "Bravo Secret" not in page.content.decode()
    # Whatever the form says about the funder, an exhibitor's campaign is funded by that exhibitor.
    response = client.post(reverse("admin:vouchers_campaign_add"),
                           _form(funder_kind="platform", funder_exhibitor=str(exhibitor_a.pk), scope_products=[str(own.pk)]))
    assert response.status_code == 302, _errors(response)
    campaign = Campaign.objects.get(slug="spring")
    assert (campaign.funder_kind, campaign.funder_exhibitor_id) == (FunderKind.EXHIBITOR, exhibitor_a.pk)
    assert list(campaign.scope_exhibitors.values_list("pk", flat=True)) == [exhibitor_a.pk]
    # Another exhibitor's product is not a valid choice.
    refused = client.post(reverse("admin:vouchers_campaign_add"),
                          _form(slug="sneaky", funder_exhibitor=str(exhibitor_a.pk), scope_products=[str(foreign.pk)]))
    assert refused.status_code == 200
    assert not Campaign.objects.filter(slug="sneaky").exists()


def test_exhibitor_staff_see_only_their_campaigns_and_another_answers_404(staff_a, exhibitor_a, exhibitor_b, operator):
    roles_ensure()
    make_campaign(actor=operator, slug="platform-wide", title="Platform wide")
    theirs = make_campaign(actor=operator, slug="bravo-own", title="Bravo own", funder_kind=FunderKind.EXHIBITOR,
                           funder_exhibitor=exhibitor_b)
    ours = make_campaign(actor=operator, slug="alpha-own", title="Alpha own", funder_kind=FunderKind.EXHIBITOR,
                         funder_exhibitor=exhibitor_a)
    client = _client(staff_a)
    listing = client.get(reverse("admin:vouchers_campaign_changelist")).content.decode()
    assert "Alpha own" in listing
    assert "Bravo own" not in listing
    assert "Platform wide" not in listing
    assert client.get(reverse("admin:vouchers_campaign_change", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:vouchers_campaign_change", args=[ours.pk])).status_code == 200
    assert client.get(reverse("admin:payments_vouchersettlement_change", args=[theirs.pk])).status_code == 404


def test_operators_verify_a_shoppers_group_membership_in_the_admin(operator, senior_group, staff_a):
    shopper = ShopperFactory(email="grandma@shopper.test")
    response = _client(operator).post(reverse("admin:accounts_eligibilitymembership_add"),
                                      {"user": str(shopper.pk), "group": str(senior_group.pk), "note": "ID card seen"})
    assert response.status_code == 302, response.content.decode()[:2000]
    membership = EligibilityMembership.objects.get(user=shopper, group=senior_group)
    assert membership.verified_by == operator
    assert AuditEvent.objects.filter(object_id=str(membership.pk), name="verify").exists()
    # Exhibitor staff never reach it.
    assert _client(staff_a).get(reverse("admin:accounts_eligibilitymembership_changelist")).status_code in (302, 403)


def test_the_settlement_page_lists_the_campaign_and_its_counts(operator):
    make_campaign(actor=operator, slug="reported", title="Reported campaign")
    client = _client(operator)
    listing = client.get(reverse("admin:payments_vouchersettlement_changelist"))
    assert listing.status_code == 200
    assert "reported" in listing.content.decode()
    detail = client.get(reverse("admin:payments_vouchersettlement_change", args=[Campaign.objects.get(slug="reported").pk]))
    assert detail.status_code == 200
    assert "voucher-settlement" in detail.content.decode()
