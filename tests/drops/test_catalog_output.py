"""The catalog's product shape with drops (API.md "Drops"): `sale_mode`, `ballot`, `priority`, checked
strictly against the schema, and the list still one query whatever the page size."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog import selectors
from apps.catalog.api.serializers import PRODUCT_COLUMNS, product_output
from apps.catalog.services import ballots, drops
from tests.catalog.test_api_products import PRODUCT_LIST_QUERIES
from tests.drops.conftest import after_draw_time, make_ballot, register_many
from tests.factories import ExhibitorFactory, ProductFactory
from tests.test_output_shapes import assert_matches

pytestmark = pytest.mark.django_db


def listed(product_id: int) -> dict:
    return product_output(selectors.product_list_public().only(*PRODUCT_COLUMNS).get(pk=product_id))


def test_a_first_come_product_says_so_and_has_no_ballot_or_priority(exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True)

    data = listed(product.pk)

    assert (data["sale_mode"], data["ballot"], data["priority"]) == ("first_come", None, None)
    assert_matches("ProductOutput", data)


def test_a_ballot_product_shows_its_ballot_and_hides_the_seed_until_the_draw(drop):
    ballot = make_ballot(drop)
    register_many(drop, 2)

    before = listed(drop.pk)
    assert_matches("ProductOutput", before)
    assert before["sale_mode"] == "ballot"
    assert before["ballot"]["status"] == "registration"
    assert before["ballot"]["seed"] is None
    assert before["ballot"]["seed_sha256"] == ballot.seed_sha256
    assert before["ballot"]["registrations"] == 2
    assert before["ballot"]["purchase_window_minutes"] == 60

    ballots.ballot_draw(ballot_id=ballot.pk, now=after_draw_time(ballot))

    after = listed(drop.pk)
    assert_matches("ProductOutput", after)
    assert after["ballot"]["status"] == "drawn"
    assert after["ballot"]["seed"] == ballot.seed


def test_a_priority_product_lists_the_collectibles_whose_holders_go_first(exhibitor_a):
    koi = ProductFactory(exhibitor=exhibitor_a, collectible=True)
    carp = ProductFactory(exhibitor=exhibitor_a, collectible=True)
    starts = timezone.now() + timedelta(days=2)
    lanterns = ProductFactory(exhibitor=exhibitor_a, collectible=True, sale_starts_at=starts)
    drops.holder_priority_save(product=lanterns, starts_at=starts - timedelta(days=1), holders_of=[carp, koi])

    data = listed(lanterns.pk)

    assert_matches("ProductOutput", data)
    assert data["priority"]["holders_of"] == sorted([koi.pk, carp.pk])
    assert data["priority"]["starts_at"] is not None


@pytest.mark.parametrize("page_size", [1, 50])
def test_the_list_with_drops_is_still_one_query(api_client, django_assert_num_queries, page_size):
    exhibitor = ExhibitorFactory()
    koi = ProductFactory(exhibitor=exhibitor, collectible=True)
    for n in range(25):
        drop = ProductFactory(exhibitor=exhibitor, collectible=True, edition_size=2)
        make_ballot(drop)
        later = ProductFactory(exhibitor=exhibitor, collectible=True, sale_starts_at=timezone.now() + timedelta(days=1 + n))
        drops.holder_priority_save(product=later, starts_at=timezone.now(), holders_of=[koi])

    with django_assert_num_queries(PRODUCT_LIST_QUERIES):
        response = api_client.get("/api/v1/products/", {"page_size": page_size})

    results = response.json()["results"]
    assert len(results) == page_size
    assert all(r["ballot"] is not None or r["priority"] is not None or r["id"] == koi.pk for r in results)


def test_the_detail_with_a_ballot_is_one_query(drop, api_client, django_assert_num_queries):
    make_ballot(drop)

    with django_assert_num_queries(1):
        response = api_client.get(f"/api/v1/products/{drop.pk}/")

    assert response.json()["ballot"]["status"] == "registration"
