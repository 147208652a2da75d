"""API errors follow Accept-Language (English or Simplified Chinese); the `code` never changes."""

import re

import pytest

from tests.factories import ProductFactory, place_order

ORDERS = "/api/v1/orders/"
# A detail wholly in one language: English words, or Chinese with no Latin letters besides numbers.
LATIN = r"[A-Za-z0-9 .,;:'()-]+"
CHINESE = r"[^A-Za-z]*[\u4e00-\u9fff][^A-Za-z]*"


def _order(client, lines, language):
    return client.post(ORDERS, {"lines": lines}, format="json", headers={"Accept-Language": language})


@pytest.mark.parametrize(("language", "script"), [("en", LATIN), ("zh-hans", CHINESE), ("zh-CN", CHINESE)])
def test_a_domain_error_is_written_in_the_request_language(client_a, other_shopper, exhibitor_a, language, script):
    # given a collectible whose only edition another shopper holds
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True, edition_size=1)
    place_order(other_shopper, (product, 1))

    # when a shopper orders it in `language`, twice (the database refusal, then the Redis flag's)
    answers = [_order(client_a, [{"product": product.pk}], language) for _ in range(2)]

    # then both are 409 sold_out, with the detail in that language
    for response in answers:
        [error] = response.json()["errors"]
        assert (response.status_code, error["code"]) == (409, "sold_out")
        assert re.fullmatch(script, error["detail"]), error["detail"]


@pytest.mark.parametrize(("language", "detail"), [
    ("en", "This field is required."),
    ("zh-hans", "该字段是必填项。"),
])
def test_drf_validation_errors_are_translated_too(client_a, language, detail):
    response = client_a.post(ORDERS, {}, format="json", headers={"Accept-Language": language})

    [error] = response.json()["errors"]
    assert (response.status_code, error["code"], error["attr"]) == (400, "required", "lines")
    assert error["detail"] == detail


@pytest.mark.parametrize(("language", "detail"), [
    ("en", "Unknown product: 987654."),
    ("zh-hans", "未知商品：987654。"),
])
def test_a_field_scoped_business_refusal_is_translated(client_a, language, detail):
    response = _order(client_a, [{"product": 987654}], language)

    [error] = response.json()["errors"]
    assert (response.status_code, error["code"], error["attr"]) == (400, "invalid", "lines")
    assert error["detail"] == detail


def test_an_unsupported_language_gets_english(client_a):
    response = client_a.post(ORDERS, {}, format="json", headers={"Accept-Language": "fr"})

    assert response.json()["errors"][0]["detail"] == "This field is required."
