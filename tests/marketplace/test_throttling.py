"""API throttles (marketplace/api/throttling.py): DRF's rates, counted in Redis fixed windows."""

import pytest

from marketplace.api.throttling import AnonRateThrottle, UserRateThrottle
from tests.factories import ShopperFactory, authenticated_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


@pytest.fixture
def low_rates(monkeypatch):
    """DRF reads the rates into the classes at import: patch them there (3 a minute each)."""
    rates = {"anon": "3/min", "user": "3/min"}
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", rates)


def test_anonymous_caller_is_refused_past_the_rate_with_the_contract_error(api_client, low_rates):
    # given an anonymous caller that spent its 3 calls of the minute
    statuses = [api_client.get(URL, REMOTE_ADDR="10.1.0.1").status_code for _ in range(3)]

    # when it calls again
    response = api_client.get(URL, REMOTE_ADDR="10.1.0.1")

    # then 429 throttled, in the contract's shape, with a Retry-After within the window
    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 61


def test_each_anonymous_address_has_its_own_count(api_client, low_rates):
    # given one address that is throttled
    for _ in range(4):
        api_client.get(URL, REMOTE_ADDR="10.1.0.2")

    # when another address calls
    response = api_client.get(URL, REMOTE_ADDR="10.1.0.3")

    # then it is served
    assert response.status_code == 200


def test_shoppers_are_counted_per_user_not_per_address(low_rates):
    # given a shopper who spent the rate from one address
    first, second = ShopperFactory(), ShopperFactory()
    client_1, client_2 = authenticated_client(first), authenticated_client(second)
    for _ in range(3):
        assert client_1.get("/api/v1/orders/", REMOTE_ADDR="10.1.0.4").status_code == 200

    # when that shopper calls from another address, and another shopper from the same address
    again = client_1.get("/api/v1/orders/", REMOTE_ADDR="10.1.0.5")
    other = client_2.get("/api/v1/orders/", REMOTE_ADDR="10.1.0.4")

    # then the first is refused and the second served
    assert again.status_code == 429
    assert other.status_code == 200


def test_a_new_window_serves_the_caller_again(api_client, low_rates, monkeypatch):
    # given a throttled caller at t=1000 s
    clock = {"now": 1000.0}
    monkeypatch.setattr(AnonRateThrottle, "timer", lambda self: clock["now"])
    for _ in range(3):
        api_client.get(URL, REMOTE_ADDR="10.1.0.6")
    assert api_client.get(URL, REMOTE_ADDR="10.1.0.6").status_code == 429

    # when the next minute's window starts
    clock["now"] = 1021.0  # windows are aligned on multiples of 60 s: 960..1020, 1020..1080

    # then the caller is served again
    assert api_client.get(URL, REMOTE_ADDR="10.1.0.6").status_code == 200


def test_an_unreachable_counter_lets_the_request_through(api_client, low_rates, monkeypatch):
    # given Redis refusing the throttle's connection
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from marketplace.api import throttling

    broken = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(throttling, "_client", lambda: broken)

    # when an anonymous caller asks for more than the rate
    statuses = [api_client.get(URL, REMOTE_ADDR="10.1.0.7").status_code for _ in range(5)]

    # then every call is served (the catalog does not depend on the counter)
    assert statuses == [200] * 5
