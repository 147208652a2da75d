from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog import services as catalog_services
from tests.factories import ProductFactory, ServiceSlotFactory, add_download_file


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path), "base_url": None}}}




@pytest.fixture
def drop(exhibitor_a):
    return ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, price=8800, title="Jade Dragon")


@pytest.fixture
def ebook(exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, price=1999, stock_total=10, download_limit=2, title="Tea Guide")
    add_download_file(product)
    return product


@pytest.fixture
def software(exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, price=4999, title="Paint Pro")
    catalog_services.licence_keys_add(product=product, keys=["KEY-AAAA", "KEY-BBBB", "KEY-CCCC"])
    return product


@pytest.fixture
def consultation(exhibitor_a):
    return ProductFactory(exhibitor=exhibitor_a, service=True, price=5000, title="Health consult")


@pytest.fixture
def slot(consultation):
    return ServiceSlotFactory(product=consultation, capacity=2)


@pytest.fixture
def booth_pass(exhibitor_a):
    now = timezone.now()
    return ProductFactory(exhibitor=exhibitor_a, pass_=True, price=3000, stock_total=5, title="VR booth",
                          pass_valid_from=now - timedelta(hours=1), pass_valid_until=now + timedelta(days=1))
