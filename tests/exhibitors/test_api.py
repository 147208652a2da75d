"""Public exhibitor directory: GET /api/v1/exhibitors/ and /api/v1/exhibitors/{slug}/."""

import pytest

from apps.exhibitors.models import ExhibitorStatus
from tests.factories import ExhibitorFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/exhibitors/"


def slugs(response) -> list[str]:
    assert response.status_code == 200
    return [item["slug"] for item in response.json()["results"]]


def assert_not_found_json(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["type"] == "client_error"
    assert [e["code"] for e in response.json()["errors"]] == ["not_found"]


def test_list_fields_and_values(api_client):
    # given an approved exhibitor
    ExhibitorFactory(
        slug="jade-studio",
        name="Jade Studio",
        name_zh_hans="玉工作室",
        hall="H2",
        booth="C07",
        description="Carved jade.",
        contact_email="hello@jade.test",
    )

    # when a shopper lists exhibitors anonymously
    response = api_client.get(LIST_URL)

    # then the public fields are there and nothing internal leaks
    assert response.status_code == 200
    assert set(response.json()) == {"next", "previous", "results"}
    assert response.json()["results"] == [
        {
            "slug": "jade-studio",
            "name": "Jade Studio",
            "name_zh": "玉工作室",
            "hall": "H2",
            "booth": "C07",
            "description": "Carved jade.",
        }
    ]


def test_only_approved_exhibitors_are_listed_in_slug_order(api_client):
    ExhibitorFactory(slug="zeta")
    ExhibitorFactory(slug="alpha")
    ExhibitorFactory(slug="pending", status=ExhibitorStatus.PENDING)
    ExhibitorFactory(slug="suspended", status=ExhibitorStatus.SUSPENDED)

    assert slugs(api_client.get(LIST_URL)) == ["alpha", "zeta"]


def test_detail_of_an_approved_exhibitor(api_client):
    ExhibitorFactory(slug="jade-studio", name="Jade Studio", hall="H2", booth="C07")

    response = api_client.get(f"{LIST_URL}jade-studio/")

    assert response.status_code == 200
    assert response.json()["slug"] == "jade-studio"
    assert (response.json()["hall"], response.json()["booth"]) == ("H2", "C07")


@pytest.mark.parametrize("status", [ExhibitorStatus.PENDING, ExhibitorStatus.SUSPENDED])
def test_detail_of_an_unapproved_exhibitor_answers_404(api_client, status):
    ExhibitorFactory(slug="hidden", status=status)

    assert_not_found_json(api_client.get(f"{LIST_URL}hidden/"))


@pytest.mark.parametrize("slug", ["nobody", "not%20a%20slug", "%00"])
def test_detail_of_an_unknown_exhibitor_answers_404(api_client, slug):
    assert_not_found_json(api_client.get(f"{LIST_URL}{slug}/"))


def test_filter_by_hall_ignores_case(api_client):
    ExhibitorFactory(slug="one", hall="H1")
    ExhibitorFactory(slug="two", hall="H2")

    assert slugs(api_client.get(LIST_URL, {"hall": "h2"})) == ["two"]
    assert slugs(api_client.get(LIST_URL, {"hall": "H9"})) == []


@pytest.mark.parametrize(
    ("term", "expected"),
    [("jade", ["jade-studio"]), ("玉", ["jade-studio"]), ("teapots", ["tea-house"]), ("STUDIO", ["jade-studio"])],
)
def test_search_names_in_english_and_chinese_and_descriptions(api_client, term, expected):
    ExhibitorFactory(slug="jade-studio", name="Jade Studio", name_zh_hans="玉工作室")
    ExhibitorFactory(slug="tea-house", name="Tea House", name_zh_hans="茶馆", description="Teapots and tea sets.")

    assert slugs(api_client.get(LIST_URL, {"search": term})) == expected


def test_bad_filter_values_answer_400(api_client):
    response = api_client.get(LIST_URL, {"search": "a\x00", "hall": "x" * 21})

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert sorted((e["attr"], e["code"]) for e in body["errors"]) == [
        ("hall", "max_length"),
        ("search", "null_characters_not_allowed"),
    ]


def test_pagination_by_slug(api_client):
    for slug in ["e", "a", "c", "b", "d"]:
        ExhibitorFactory(slug=slug)

    first = api_client.get(LIST_URL, {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()

    assert [i["slug"] for i in first["results"] + second["results"] + third["results"]] == ["a", "b", "c", "d", "e"]
    assert third["next"] is None
    assert first["previous"] is None
    assert api_client.get(third["previous"]).json()["results"] == second["results"]


def test_malformed_cursor_answers_404_json(api_client):
    ExhibitorFactory()

    assert_not_found_json(api_client.get(LIST_URL, {"cursor": "nope"}))


@pytest.mark.parametrize("page_size", [1, 100])
def test_list_query_count_does_not_depend_on_page_size(api_client, django_assert_num_queries, page_size):
    ExhibitorFactory.create_batch(110)

    # One query per page. Measured: 1.
    with django_assert_num_queries(1):
        response = api_client.get(LIST_URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
