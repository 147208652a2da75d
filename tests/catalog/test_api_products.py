"""Public product catalog: GET /api/v1/products/ and /api/v1/products/{id}/ (API.md "Catalog")."""

import base64
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from apps.catalog.models import Edition, EditionStatus, ProductKind
from apps.exhibitors.models import ExhibitorStatus
from tests.factories import ExhibitorFactory, ProductFactory, ServiceSlotFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/products/"


def detail_url(product_id: object) -> str:
    return f"/api/v1/products/{product_id}/"


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def assert_validation_error(response, *, attr: str, code: str) -> None:
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert [(e["attr"], e["code"]) for e in body["errors"]] == [(attr, code)]
    assert body["errors"][0]["detail"]


def assert_not_found_json(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "client_error"
    assert [e["code"] for e in body["errors"]] == ["not_found"]


# --- fields and values -------------------------------------------------------------------------


def test_list_item_has_the_contract_fields(api_client, exhibitor_a):
    # given a published download of an approved exhibitor with a limited stock
    starts = timezone.now() - timedelta(days=1)
    ends = timezone.now() + timedelta(days=1)
    product = ProductFactory(
        exhibitor=exhibitor_a,
        slug="soundpack",
        title="Sound pack",
        title_zh_hans="音效包",
        description="Forty loops.",
        description_zh_hans="四十个循环。",
        price=1999,
        sale_starts_at=starts,
        sale_ends_at=ends,
        per_customer_limit=2,
        stock_total=5,
        stock_taken=2,
    )

    # when a shopper lists the catalog anonymously
    response = api_client.get(LIST_URL)

    # then the item carries every contract field with its value
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    [item] = body["results"]
    assert datetime.fromisoformat(item.pop("sale_starts_at")) == starts
    assert datetime.fromisoformat(item.pop("sale_ends_at")) == ends
    assert item == {
        "id": product.id,
        "slug": "soundpack",
        "kind": "download",
        "title": "Sound pack",
        "title_zh": "音效包",
        "description": "Forty loops.",
        "exhibitor": {"slug": "alpha", "name": "Alpha"},
        "price": 1999,
        "currency": "CNY",
        "on_sale": True,
        "per_customer_limit": 2,
        "remaining": 3,
        "edition_size": None,
        "image": None,
        "sale_mode": "first_come",  # drops (tests/drops/test_catalog_output.py)
        "ballot": None,
        "priority": None,
        **({"components": None} if "components" in item else {}),  # bundles (lands separately)
    }


def test_remaining_of_a_collectible_counts_available_editions(api_client):
    # given a collectible of 10 editions, 2 sold and 1 held
    product = ProductFactory(collectible=True, edition_size=10)
    Edition.objects.filter(product=product, serial__in=[1, 2]).update(status=EditionStatus.SOLD)
    Edition.objects.filter(product=product, serial=3).update(status=EditionStatus.HELD)

    # when its detail is read
    response = api_client.get(detail_url(product.id))

    # then 7 remain of an edition of 10
    assert response.status_code == 200
    assert response.json()["remaining"] == 7
    assert response.json()["edition_size"] == 10
    assert response.json()["kind"] == "collectible"


def test_remaining_of_a_service_sums_places_of_upcoming_slots(api_client):
    # given a service with two upcoming slots (3 free of 4, 2 free of 2) and a past one
    product = ProductFactory(service=True)
    ServiceSlotFactory(product=product, capacity=4, taken=1)
    ServiceSlotFactory(product=product, capacity=2, starts_at=timezone.now() + timedelta(days=2))
    ServiceSlotFactory(product=product, capacity=9, starts_at=timezone.now() - timedelta(hours=2))

    # when it is read
    response = api_client.get(detail_url(product.id))

    # then only upcoming places count
    assert response.json()["remaining"] == 5
    assert response.json()["edition_size"] is None


def test_remaining_of_a_service_without_slots_is_zero(api_client):
    product = ProductFactory(service=True)

    response = api_client.get(detail_url(product.id))

    assert response.json()["remaining"] == 0


@pytest.mark.parametrize(
    ("kind", "stock_total", "stock_taken", "expected"),
    [
        (ProductKind.DOWNLOAD, None, 0, None),
        (ProductKind.DOWNLOAD, 10, 4, 6),
        (ProductKind.PASS, None, 0, None),
        (ProductKind.PASS, 3, 3, 0),
    ],
)
def test_remaining_of_stock_counted_kinds(api_client, kind, stock_total, stock_taken, expected):
    # given a download or pass with unlimited (null) or counted stock
    product = ProductFactory(kind=kind, stock_total=stock_total, stock_taken=stock_taken)

    # when it is read
    response = api_client.get(detail_url(product.id))

    # then remaining is stock_total - stock_taken, or null for unlimited
    assert response.json()["remaining"] == expected
    assert response.json()["edition_size"] is None


# --- language ----------------------------------------------------------------------------------


@pytest.mark.parametrize("accept_language", ["zh", "zh-CN", "zh-Hans", "zh-hans;q=0.9, en;q=0.5"])
def test_title_and_description_follow_a_chinese_request(api_client, accept_language):
    # given a product with English and Chinese texts
    product = ProductFactory(title="Tea ceremony", title_zh_hans="茶道", description="Live.", description_zh_hans="直播。")

    # when a shopper asks in Chinese
    response = api_client.get(detail_url(product.id), HTTP_ACCEPT_LANGUAGE=accept_language)

    # then title and description are Chinese and title_zh is still there
    body = response.json()
    assert (body["title"], body["description"], body["title_zh"]) == ("茶道", "直播。", "茶道")


def test_chinese_request_falls_back_to_english_where_no_chinese_text(api_client):
    product = ProductFactory(title="Tea ceremony", title_zh_hans="", description="Live.", description_zh_hans="")

    body = api_client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="zh").json()["results"][0]

    assert (body["id"], body["title"], body["description"], body["title_zh"]) == (product.id, "Tea ceremony", "Live.", "")


def test_english_is_the_default_language(api_client):
    ProductFactory(title="Tea ceremony", title_zh_hans="茶道")

    assert api_client.get(LIST_URL).json()["results"][0]["title"] == "Tea ceremony"
    assert api_client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="fr").json()["results"][0]["title"] == "Tea ceremony"


# --- visibility --------------------------------------------------------------------------------


def test_unpublished_and_unapproved_exhibitor_products_are_absent(api_client):
    # given a visible product, an unpublished one, and products of pending and suspended exhibitors
    visible = ProductFactory()
    unpublished = ProductFactory(is_published=False)
    pending = ProductFactory(exhibitor=ExhibitorFactory(status=ExhibitorStatus.PENDING))
    suspended = ProductFactory(exhibitor=ExhibitorFactory(status=ExhibitorStatus.SUSPENDED))

    # when listed and read one by one
    listed = ids(api_client.get(LIST_URL))

    # then only the visible one is listed, and the hidden ones answer 404 like unknown ids
    assert listed == [visible.id]
    assert api_client.get(detail_url(visible.id)).status_code == 200
    for hidden in (unpublished, pending, suspended):
        assert_not_found_json(api_client.get(detail_url(hidden.id)))


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "-1", "1e3", "%00", "99999999999999999999999999", "0"])
def test_malformed_or_unknown_product_id_answers_404_json(api_client, bad_id):
    assert_not_found_json(api_client.get(f"/api/v1/products/{bad_id}/"))


def test_unknown_api_path_answers_404_json(api_client):
    assert_not_found_json(api_client.get("/api/v1/whatever/"))
    assert_not_found_json(api_client.get("/api/v1/products/1/nope/"))


def test_unknown_api_version_answers_404_json(api_client):
    assert_not_found_json(api_client.get("/api/v2/products/"))


# --- filters -----------------------------------------------------------------------------------


def test_filter_by_kind(api_client):
    collectible = ProductFactory(collectible=True)
    ProductFactory()
    ProductFactory(service=True)

    assert ids(api_client.get(LIST_URL, {"kind": "collectible"})) == [collectible.id]


def test_unknown_kind_answers_400(api_client):
    assert_validation_error(api_client.get(LIST_URL, {"kind": "vinyl"}), attr="kind", code="invalid_choice")


@pytest.mark.parametrize("parameter", ["kind", "exhibitor", "available"])
def test_an_empty_choice_parameter_answers_400_not_everything(api_client, parameter):
    # `?kind=` is not in the schema's enum: refused, not read as "no filter"
    assert_validation_error(api_client.get(f"{LIST_URL}?{parameter}="), attr=parameter, code="invalid_choice")


def test_filter_by_exhibitor_slug(api_client, exhibitor_a, exhibitor_b):
    mine = ProductFactory(exhibitor=exhibitor_a)
    ProductFactory(exhibitor=exhibitor_b)

    assert ids(api_client.get(LIST_URL, {"exhibitor": "alpha"})) == [mine.id]


@pytest.mark.parametrize("slug", ["nobody", "not a slug", "al\x00pha", "x" * 300])
def test_unknown_exhibitor_answers_400(api_client, exhibitor_a, slug):
    ProductFactory(exhibitor=exhibitor_a)

    assert_validation_error(api_client.get(LIST_URL, {"exhibitor": slug}), attr="exhibitor", code="invalid_choice")


def test_unapproved_exhibitor_slug_answers_400_like_an_unknown_one(api_client):
    ExhibitorFactory(slug="waiting", status=ExhibitorStatus.PENDING)

    assert_validation_error(api_client.get(LIST_URL, {"exhibitor": "waiting"}), attr="exhibitor", code="invalid_choice")


@pytest.mark.parametrize(
    ("term", "expected_slugs"),
    [
        ("dragon", {"dragon-print"}),
        ("DRAGON", {"dragon-print"}),
        ("龙", {"dragon-print"}),
        ("健康", {"health-chat"}),
        ("consultation", {"health-chat"}),
        ("Alpha", {"dragon-print", "health-chat"}),  # the exhibitor's name
        ("health-", {"health-chat"}),  # the slug
        ("   ", {"dragon-print", "health-chat"}),  # blank: no filter
        ("nothing-matches", set()),
    ],
)
def test_search_in_english_and_chinese(api_client, exhibitor_a, term, expected_slugs):
    # given two products with English and Chinese texts
    ProductFactory(exhibitor=exhibitor_a, slug="dragon-print", title="Dragon print", title_zh_hans="龙年版画")
    ProductFactory(
        exhibitor=exhibitor_a,
        slug="health-chat",
        title="Talk to a doctor",
        title_zh_hans="医生咨询",
        description="A video consultation.",
        description_zh_hans="视频健康咨询。",
        service=True,
    )

    # when searching
    response = api_client.get(LIST_URL, {"search": term})

    # then the matching products are listed
    assert response.status_code == 200
    assert {item["slug"] for item in response.json()["results"]} == expected_slugs


def test_search_refuses_nul_bytes_and_overlong_terms(api_client):
    assert_validation_error(api_client.get(LIST_URL, {"search": "a\x00b"}), attr="search", code="null_characters_not_allowed")
    assert_validation_error(api_client.get(LIST_URL, {"search": "x" * 101}), attr="search", code="max_length")


def test_available_filter(api_client):
    # given products on sale, sold out, not yet on sale and ended, of every kind
    now = timezone.now()
    unlimited = ProductFactory(slug="unlimited")
    with_stock = ProductFactory(slug="with-stock", stock_total=5, stock_taken=4)
    sold_out_download = ProductFactory(slug="sold-out-download", stock_total=5, stock_taken=5)
    not_yet = ProductFactory(slug="not-yet", sale_starts_at=now + timedelta(hours=1))
    ended = ProductFactory(slug="ended", sale_ends_at=now - timedelta(minutes=1))
    collectible = ProductFactory(slug="collectible", collectible=True, edition_size=2)
    sold_out_collectible = ProductFactory(slug="sold-out-collectible", collectible=True, edition_size=2)
    Edition.objects.filter(product=sold_out_collectible).update(status=EditionStatus.SOLD)
    service = ProductFactory(slug="service", service=True)
    ServiceSlotFactory(product=service)
    full_service = ProductFactory(slug="full-service", service=True)
    ServiceSlotFactory(product=full_service, capacity=1, taken=1)
    ServiceSlotFactory(product=full_service, starts_at=now - timedelta(days=1))  # past: not bookable

    # when filtering on availability
    available = set(ids(api_client.get(LIST_URL, {"available": "true"})))
    unavailable = set(ids(api_client.get(LIST_URL, {"available": "false"})))

    # then true keeps what can be bought now, false the rest, and together they cover all
    assert available == {unlimited.id, with_stock.id, collectible.id, service.id}
    assert unavailable == {sold_out_download.id, not_yet.id, ended.id, sold_out_collectible.id, full_service.id}
    by_id = {item["id"]: item for item in api_client.get(LIST_URL).json()["results"]}
    assert by_id[not_yet.id]["on_sale"] is False
    assert by_id[ended.id]["on_sale"] is False
    assert by_id[sold_out_download.id]["on_sale"] is True
    assert by_id[sold_out_download.id]["remaining"] == 0


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_available_accepts_only_true_or_false(api_client, value):
    ProductFactory()

    response = api_client.get(LIST_URL, {"available": value})

    # an empty value too: the schema's enum has none (schemathesis' negative data found it)
    assert_validation_error(response, attr="available", code="invalid_choice")


def test_filters_combine(api_client, exhibitor_a, exhibitor_b):
    wanted = ProductFactory(exhibitor=exhibitor_a, collectible=True, title="Jade rabbit")
    ProductFactory(exhibitor=exhibitor_a, title="Jade rabbit wallpaper")
    ProductFactory(exhibitor=exhibitor_b, collectible=True, title="Jade rabbit")

    response = api_client.get(LIST_URL, {"exhibitor": "alpha", "kind": "collectible", "search": "jade", "available": "true"})

    assert ids(response) == [wanted.id]


# --- pagination --------------------------------------------------------------------------------


def test_cursor_pagination_walks_forward_and_back(api_client):
    # given five products
    products = [ProductFactory() for _ in range(5)]
    newest_first = [p.id for p in reversed(products)]

    # when walking pages of two
    first = api_client.get(LIST_URL, {"page_size": 2}).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()
    back = api_client.get(third["previous"]).json()

    # then every product appears once, newest first, and previous leads back
    assert first["previous"] is None
    assert [i["id"] for i in first["results"] + second["results"] + third["results"]] == newest_first
    assert third["next"] is None
    assert [i["id"] for i in back["results"]] == [i["id"] for i in second["results"]]
    assert parse_qs(urlparse(first["next"]).query)["page_size"] == ["2"]


def test_pagination_is_stable_under_inserts(api_client):
    first_batch = [ProductFactory() for _ in range(3)]
    page = api_client.get(LIST_URL, {"page_size": 2}).json()

    ProductFactory()  # a new product arrives between two page loads

    rest = api_client.get(page["next"]).json()
    assert [i["id"] for i in rest["results"]] == [first_batch[0].id]


def test_page_size_is_capped_at_100(api_client):
    ProductFactory.create_batch(101)

    response = api_client.get(LIST_URL, {"page_size": 500})

    assert len(response.json()["results"]) == 100
    assert response.json()["next"] is not None


@pytest.mark.parametrize("page_size", ["0", "-3", "abc", "null", ""])
def test_unusable_page_size_is_refused(api_client, page_size):
    ProductFactory.create_batch(21)

    response = api_client.get(LIST_URL, {"page_size": page_size})

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["errors"][0]["attr"] == "page_size"


def _cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",  # lenient base64 would read this as an empty cursor
        _cursor("p=abc"),  # a position that is no id
        _cursor("p=1\x00"),
        _cursor("o=-1"),
        _cursor("o=x&r=1"),
    ],
)
def test_malformed_cursor_answers_404_json(api_client, cursor):
    ProductFactory.create_batch(3)

    response = api_client.get(LIST_URL, {"cursor": cursor})

    assert_not_found_json(response)


def test_cursor_with_an_out_of_range_position_is_no_server_error(api_client):
    products = ProductFactory.create_batch(3)

    # "ids below 10^29" in newest-first order: every product, nothing reaches bigint overflow
    response = api_client.get(LIST_URL, {"cursor": _cursor("p=99999999999999999999999999999")})

    assert response.status_code == 200
    assert ids(response) == [p.id for p in reversed(products)]


# --- query counts ------------------------------------------------------------------------------


@pytest.fixture
def big_catalog(db):
    """120 visible products of mixed kinds with editions and slots, plus hidden ones."""
    exhibitors = ExhibitorFactory.create_batch(4)
    now = timezone.now()
    for n in range(120):
        exhibitor = exhibitors[n % 4]
        match n % 4:
            case 0:
                product = ProductFactory(exhibitor=exhibitor, collectible=True, edition_size=5)
                Edition.objects.filter(product=product, serial=1).update(status=EditionStatus.SOLD)
            case 1:
                product = ProductFactory(exhibitor=exhibitor, service=True)
                ServiceSlotFactory(product=product, taken=1)
                ServiceSlotFactory(product=product, starts_at=now + timedelta(days=3))
            case 2:
                ProductFactory(exhibitor=exhibitor, stock_total=10, stock_taken=n % 10)
            case 3:
                ProductFactory(exhibitor=exhibitor, pass_=True)
    ProductFactory(is_published=False)
    ProductFactory(exhibitor=ExhibitorFactory(status=ExhibitorStatus.PENDING))
    return exhibitors


# One query per page whatever its size: the exhibitor is joined and `remaining`/`on_sale` are
# computed in the same SELECT (apps.catalog.selectors). The exhibitor filter adds one lookup of the
# slug. Measured: 1 query (list), 2 with ?exhibitor=, 1 (detail).
PRODUCT_LIST_QUERIES = 1


@pytest.mark.parametrize("page_size", [1, 100])
def test_product_list_query_count_does_not_depend_on_page_size(api_client, big_catalog, django_assert_num_queries, page_size):
    with django_assert_num_queries(PRODUCT_LIST_QUERIES):
        response = api_client.get(LIST_URL, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    assert {item["kind"] for item in response.json()["results"]} == (
        {"pass"} if page_size == 1 else {"collectible", "service", "download", "pass"}
    )


@pytest.mark.parametrize("page_size", [1, 100])
def test_filtered_product_list_query_count_does_not_depend_on_page_size(
    api_client, big_catalog, django_assert_num_queries, page_size
):
    with django_assert_num_queries(PRODUCT_LIST_QUERIES + 1):
        response = api_client.get(LIST_URL, {"page_size": page_size, "exhibitor": big_catalog[0].slug, "available": "true"})

    assert len(response.json()["results"]) == min(page_size, 30)


def test_product_detail_is_one_query(api_client, big_catalog, django_assert_num_queries):
    product_id = api_client.get(LIST_URL, {"kind": "service", "page_size": 1}).json()["results"][0]["id"]

    with django_assert_num_queries(1):
        response = api_client.get(detail_url(product_id))

    assert response.json()["remaining"] == 5  # 2 + 3 free places in its two upcoming slots


def test_next_page_costs_the_same(api_client, big_catalog, django_assert_num_queries):
    first = api_client.get(LIST_URL, {"page_size": 100}).json()

    with django_assert_num_queries(PRODUCT_LIST_QUERIES):
        second = api_client.get(first["next"]).json()

    assert len(second["results"]) == 20


def test_detail_and_list_load_only_the_output_columns(api_client, exhibitor_a):
    # given a product
    product = ProductFactory(exhibitor=exhibitor_a, description="long text " * 50)

    # when the detail is read: one query, which selects no column the output does not show
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = api_client.get(detail_url(product.id))

    # then
    assert response.status_code == 200
    assert response.json()["description"] == product.description
    [sql] = [q["sql"] for q in ctx.captured_queries]
    select_list = sql.split(" FROM ", 1)[0]
    assert '"catalog_product"."updated_at"' not in select_list
    assert '"catalog_product"."stock_total"' not in select_list.split("CASE", 1)[0]
    assert '"exhibitors_exhibitor"."description"' not in select_list
