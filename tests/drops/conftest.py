"""Fixtures of the drops' tests: a ballot collectible and helpers to register, draw and order."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.catalog.models import Ballot, Product
from apps.catalog.services import ballots
from tests.factories import ProductFactory, ShopperFactory


def make_ballot(product: Product, *, now: datetime | None = None, opens: timedelta = timedelta(hours=-1),
                closes: timedelta = timedelta(hours=1), draw_after_close: timedelta = timedelta(minutes=10),
                window_minutes: int = 60, seed: str | None = None) -> Ballot:
    now = now or timezone.now()
    return ballots.ballot_save(product=product, registration_starts_at=now + opens, registration_ends_at=now + closes,
                               draw_at=now + closes + draw_after_close, purchase_window_minutes=window_minutes, seed=seed,
                               now=now)


def register_many(product: Product, count: int, *, now: datetime | None = None) -> list[Any]:
    users = [ShopperFactory() for _ in range(count)]
    for user in users:
        ballots.ballot_register(product_id=product.pk, user=user, now=now)
    return users


def after_draw_time(ballot: Ballot) -> datetime:
    return ballot.draw_at + timedelta(seconds=1)


@pytest.fixture
def drop(exhibitor_a) -> Product:
    return ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=3, price=39900, title="Golden Koi")


@pytest.fixture
def ballot(drop) -> Ballot:
    return make_ballot(drop)
