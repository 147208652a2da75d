import pytest

from tests.factories import ProductFactory, ServiceSlotFactory


@pytest.fixture
def drop(exhibitor_a):
    """A collectible drop on sale now: 5 editions, 2 per customer."""
    return ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=5, per_customer_limit=2, price=8800)


@pytest.fixture
def download(exhibitor_a):
    return ProductFactory(exhibitor=exhibitor_a, price=1999, stock_total=3)


@pytest.fixture
def service_slot(exhibitor_b):
    product = ProductFactory(exhibitor=exhibitor_b, service=True, price=30000)
    return ServiceSlotFactory(product=product, capacity=2)
