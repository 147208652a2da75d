"""Vouchers fixtures: campaigns built through the service, shoppers' vouchers claimed through it,
and the payments test helpers (tasks recorded instead of reaching the broker, simulated provider)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.accounts.models import EligibilityGroup
from apps.vouchers import services
from apps.vouchers.models import Campaign, FunderKind
from tests.factories import ExhibitorFactory, OperatorFactory, ProductFactory
from tests.payments.conftest import TaskRecorder, onboard


def make_campaign(*, actor: Any = None, scope_exhibitors: Any = (), scope_products: Any = (), **fields: Any) -> Campaign:
    """A campaign saved through `campaign_save` (defaults: platform-funded, 10.00 off 20.00 CNY,
    10 vouchers, open now for a day, 1 per shopper, valid 7 days)."""
    now = timezone.now()
    values: dict[str, Any] = {
        "slug": "city-10-off-20", "title_en": "10 off 20", "funder_kind": FunderKind.PLATFORM, "funder_name": "Expo",
        "currency": "CNY", "face_value": 1000, "min_spend": 2000, "budget": 10 * 1000,
        "claim_starts_at": now - timedelta(hours=1), "claim_ends_at": now + timedelta(days=1),
        "per_customer_limit": 1, "valid_days": 7,
    }
    values.update(fields)
    if "title" in values:  # the English title (modeltranslation's `title` is the active language's)
        values["title_en"] = values.pop("title")
    actor = actor or OperatorFactory()
    campaign = services.campaign_save(campaign=Campaign(**values), actor=actor)
    if scope_exhibitors or scope_products:
        services.campaign_set_scope(campaign=campaign, actor=actor, exhibitor_ids=[e.pk for e in scope_exhibitors],
                                    product_ids=[p.pk for p in scope_products])
    return campaign


@pytest.fixture
def tasks(monkeypatch) -> TaskRecorder:
    from config.celery import app

    recorder = TaskRecorder()
    monkeypatch.setattr(app, "send_task", recorder)
    return recorder


@pytest.fixture(autouse=True)
def _simulated(settings) -> None:
    settings.PAYMENT_PROVIDER = "simulated"


@pytest.fixture
def campaign(db, operator) -> Campaign:
    return make_campaign(actor=operator)


@pytest.fixture
def senior_group(db) -> EligibilityGroup:
    # The migration creates it; a transactional test before this one may have flushed it.
    return EligibilityGroup.objects.get_or_create(slug="senior", defaults={"name": "Seniors"})[0]


@pytest.fixture
def alpha(db):
    exhibitor = ExhibitorFactory(slug="alpha", name="Alpha", commission_bps=1000)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def bravo(db):
    exhibitor = ExhibitorFactory(slug="bravo", name="Bravo", commission_bps=500)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def pass_a(alpha):
    return ProductFactory(exhibitor=alpha, kind="pass", price=1500, stock_total=None)


@pytest.fixture
def download_b(bravo):
    return ProductFactory(exhibitor=bravo, kind="download", price=999, stock_total=None)
