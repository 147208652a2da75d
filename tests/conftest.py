"""Suite-wide fixtures. Tests run on real Postgres and Redis (config.settings.test)."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from rest_framework.test import APIClient

from tests.factories import ExhibitorFactory, OperatorFactory, ShopperFactory, authenticated_client, staff_of

# The `browser` fixture (Debian's Chromium through Playwright) for the people-facing tests.
pytest_plugins = ["tests.browser"]


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request in zh-hans leaves Chinese active in the thread; the next test starts in English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Each test starts with an empty cache (keys are prefixed per test run, see settings.test)."""
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def operator(db):
    return OperatorFactory()


@pytest.fixture
def exhibitor_a(db):
    return ExhibitorFactory(slug="alpha", name="Alpha")


@pytest.fixture
def exhibitor_b(db):
    return ExhibitorFactory(slug="bravo", name="Bravo")


@pytest.fixture
def staff_a(exhibitor_a):
    return staff_of(exhibitor_a, email="staff@alpha.test")


@pytest.fixture
def staff_b(exhibitor_b):
    return staff_of(exhibitor_b, email="staff@bravo.test")


@pytest.fixture
def shopper(db):
    return ShopperFactory(email="a@shopper.test")


@pytest.fixture
def other_shopper(db):
    return ShopperFactory(email="b@shopper.test")


@pytest.fixture
def client_a(shopper) -> APIClient:
    """The REST client of `shopper`."""
    return authenticated_client(shopper)


@pytest.fixture
def client_b(other_shopper) -> APIClient:
    """The REST client of `other_shopper`."""
    return authenticated_client(other_shopper)
