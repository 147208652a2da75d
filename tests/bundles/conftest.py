"""Bundles fixtures: three exhibitors with payout accounts, goods of every kind, and two bundles
made the way an operator makes them (draft, components through the service, then published).

Tasks are recorded instead of reaching the broker and run by hand (tests/payments/conftest.py).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog import services as catalog_services
from apps.catalog.models import Product, ProductKind
from tests.factories import ExhibitorFactory, OperatorFactory, ProductFactory, ServiceSlotFactory, add_download_file
from tests.payments.conftest import WEBHOOK_SECRET, TaskRecorder, onboard


@pytest.fixture(autouse=True)
def tasks(monkeypatch) -> TaskRecorder:
    from config.celery import app

    recorder = TaskRecorder()
    monkeypatch.setattr(app, "send_task", recorder)
    return recorder


@pytest.fixture(autouse=True)
def _simulated_and_private_storage(settings, tmp_path) -> None:
    settings.PAYMENT_PROVIDER = "simulated"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path), "base_url": None}}}


@pytest.fixture
def alpha(db):
    exhibitor = ExhibitorFactory(slug="alpha", name="Alpha", name_zh_hans="阿尔法", commission_bps=1000)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def bravo(db):
    exhibitor = ExhibitorFactory(slug="bravo", name="Bravo", commission_bps=1250)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def charlie(db):
    exhibitor = ExhibitorFactory(slug="charlie", name="Charlie", commission_bps=800)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def badge(alpha):
    """A collectible of 3 editions."""
    return ProductFactory(exhibitor=alpha, collectible=True, edition_size=3, price=3800, title="Genesis Badge",
                          title_zh_hans="创世徽章")


@pytest.fixture
def guide(bravo):
    """A download with a file and 5 in stock."""
    product = ProductFactory(exhibitor=bravo, price=1800, stock_total=5, download_limit=3, title="Tea Guide", title_zh_hans="")
    add_download_file(product)
    return product


@pytest.fixture
def vip_pass(charlie):
    """A pass valid today, 4 in stock, 2 per customer."""
    now = timezone.now()
    return ProductFactory(exhibitor=charlie, pass_=True, price=6800, stock_total=4, per_customer_limit=2, title="VIP Pass",
                          pass_valid_from=now - timedelta(hours=1), pass_valid_until=now + timedelta(days=2))


@pytest.fixture
def consult(charlie):
    return ProductFactory(exhibitor=charlie, service=True, price=19900, title="Consultation")


@pytest.fixture
def slot(consult):
    return ServiceSlotFactory(product=consult, capacity=2)


@pytest.fixture
def bundle_operator(db):
    return OperatorFactory(email="bundles-operator@expo.test")


def make_bundle(*, lead, price: int, parts: list[tuple[Product, int, int]], actor, publish: bool = True, **fields) -> Product:
    """A bundle as an operator makes it: a draft, its components set through the service, then published."""
    bundle = catalog_services.product_save(product=Product(exhibitor=lead, kind=ProductKind.BUNDLE, price=price, currency="CNY",
                                                           title_en=fields.pop("title", "Bundle"), **fields))
    catalog_services.bundle_components_set(bundle=bundle, actor=actor, components=[
        catalog_services.ComponentSpec(product_id=product.pk, quantity=quantity, share_bps=share)
        for product, quantity, share in parts])
    if publish:
        catalog_services.product_set_published(product=bundle, published=True)
    bundle.refresh_from_db()
    return bundle


@pytest.fixture
def trio(alpha, badge, guide, vip_pass, bundle_operator):
    """A collectible, a download and a pass of three exhibitors: CNY 118.00, shares 28 / 21 / 51 %."""
    return make_bundle(lead=alpha, price=11800, actor=bundle_operator, title="Trio",
                       parts=[(badge, 1, 2800), (guide, 1, 2100), (vip_pass, 1, 5100)])


@pytest.fixture
def with_service(charlie, consult, slot, guide, vip_pass, bundle_operator):
    """A consultation, a download and two passes at an odd price (CNY 99.99): shares 49.99 / 20 / 30.01 %."""
    return make_bundle(lead=charlie, price=9999, actor=bundle_operator, title="Wellness",
                       parts=[(consult, 1, 4999), (guide, 1, 2000), (vip_pass, 2, 3001)])
