"""Read replicas (issue 16, marketplace/db/): what goes to a replica, what never does, and
read-your-writes.

The replica here is a second, real connection to the test database, made read-only
(`default_transaction_read_only`) as a hot standby is: a write sent to it would fail. Which
connection served a query is read from each connection's own query log.
"""

from __future__ import annotations

import copy
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.db import connections, router, transaction
from django.db.utils import load_backend
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Product
from marketplace import events
from marketplace.db import routing
from marketplace.db.config import database_settings, replica_aliases
from tests.factories import PASSWORD, OperatorFactory, ShopperFactory
from tests.marketplace.purchase_flow import buy, catalog, checkout_and_cancel, install_tasks, new_shopper_client

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica_0"


def _add_replica(settings: Any, **overrides: Any) -> str:
    conf = copy.deepcopy(connections["default"].settings_dict)
    conf["OPTIONS"] = {**conf["OPTIONS"],
                       "options": f"{conf['OPTIONS'].get('options', '')} -c default_transaction_read_only=on".strip()}
    conf["TEST"] = {**conf["TEST"], "MIRROR": "default"}
    conf.update(overrides)
    # A connection made here rather than declared in settings: Django's test case refuses aliases
    # it was not told about, and this one exists only for the test.
    connections[REPLICA] = load_backend(conf["ENGINE"]).DatabaseWrapper(conf, REPLICA)
    settings.DATABASE_REPLICAS = [REPLICA]
    settings.DATABASE_ROUTERS = ["marketplace.db.routing.ReplicaRouter"]
    routing._down_until.clear()
    return REPLICA


def _remove_replica() -> None:
    with suppress(Exception):
        connections[REPLICA].close()
    with suppress(AttributeError):
        delattr(connections._connections, REPLICA)
    routing._down_until.clear()


@pytest.fixture
def replica(transactional_db: None, settings: Any) -> Iterator[str]:
    yield _add_replica(settings)
    _remove_replica()


@pytest.fixture
def tasks(monkeypatch: Any, settings: Any) -> Any:
    return install_tasks(monkeypatch, settings)


class Served:
    """Queries each alias ran inside the block (`.primary`, `.replica`)."""

    def __init__(self) -> None:
        self.primary: list[str] = []
        self.replica: list[str] = []


@contextmanager
def served(*, replica: bool = True) -> Iterator[Served]:
    result = Served()
    aliases = ["default", *([REPLICA] if replica and hasattr(connections._connections, REPLICA) else [])]
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in aliases}
    for ctx in contexts.values():
        ctx.__enter__()
    try:
        yield result
    finally:
        for alias, ctx in contexts.items():
            ctx.__exit__(None, None, None)
            sqls = [q["sql"] for q in ctx.captured_queries]
            (result.primary if alias == "default" else result.replica).extend(sqls)


def _pinned(user: Any) -> bool:
    return cache.get(routing.PIN_KEY.format(user_id=user.pk)) is not None


# --- without replicas nothing changes -------------------------------------------------------------


def test_without_replicas_no_router_no_middleware_no_redis(transactional_db: None, settings: Any, monkeypatch: Any,
                                                           tasks: Any) -> None:
    # Given no DATABASE_REPLICA_URLS (the test settings have none)
    assert settings.DATABASE_REPLICAS == [] and settings.DATABASE_ROUTERS == [] and router.routers == []
    with pytest.raises(MiddlewareNotUsed):
        routing.ReadYourWritesMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]

    class NoRedis:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the router touched Redis ({name}) with no replica configured")

    monkeypatch.setattr(routing, "cache", NoRedis())
    # When a shopper buys, reads their library and certificate, and cancels another order
    product = catalog()
    _shopper, client = new_shopper_client()
    with served() as queries:
        buy(client, product, tasks)
        checkout_and_cancel(client, product)
    # Then everything ran on the primary, and the router never asked Redis for a pin
    assert queries.primary and not queries.replica


def test_the_router_adds_no_query_to_a_purchase(replica: str, settings: Any, tasks: Any) -> None:
    """Query counts of the purchase path with and without a replica: the same, all on the primary."""
    product = catalog()
    counts = {}
    for mode in ("replica", "none"):
        if mode == "none":
            settings.DATABASE_REPLICAS, settings.DATABASE_ROUTERS = [], []
        _shopper, client = new_shopper_client()
        with served() as queries:
            response = client.post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 1}]}, format="json")
        assert response.status_code == 201
        counts[mode] = (len(queries.primary), len(queries.replica))
    assert counts["replica"] == counts["none"] and counts["none"][1] == 0, counts


# --- what reads a replica ---------------------------------------------------------------------------


def test_the_public_catalog_reads_the_replica(replica: str) -> None:
    product = catalog()
    anonymous = Client()
    with served() as queries:
        listed = anonymous.get("/api/v1/products/")
        detail = anonymous.get(f"/api/v1/products/{product.pk}/")
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["results"]] == [product.pk]
    assert detail.status_code == 200 and detail.json()["id"] == product.pk
    assert queries.replica and not queries.primary, queries.primary


def test_a_shopper_reads_their_own_purchase_from_the_primary_then_the_replica(replica: str, settings: Any,
                                                                              tasks: Any) -> None:
    settings.DATABASE_READ_YOUR_WRITES_SECONDS = 1
    product = catalog()
    shopper, client = new_shopper_client()
    # When the shopper buys (their POSTs pin them to the primary)
    bought = buy(client, product, tasks)
    assert _pinned(shopper)
    # Then, inside the window, their library and certificate come from the primary ...
    with served() as queries:
        assert client.get("/api/v1/library/").status_code == 200
        assert client.get(f"/api/v1/certificates/{bought['certificate_code']}/").status_code == 200
    assert queries.primary and not queries.replica
    # ... while another shopper's library, at the same moment, is read from the replica
    _other, other_client = new_shopper_client()
    with served() as queries:
        assert other_client.get("/api/v1/library/").status_code == 200
    assert queries.replica and not queries.primary
    # And once the window is over, the shopper's reads go to the replica too
    time.sleep(1.1)
    assert not _pinned(shopper)
    with served() as queries:
        library = client.get("/api/v1/library/")
        page = Client().get(f"/certificates/{bought['certificate_code']}/", HTTP_ACCEPT="text/html")
    assert library.status_code == 200 and len(library.json()["results"]) == 1
    assert page.status_code == 200
    assert queries.replica and not queries.primary


def test_a_session_token_client_is_pinned_by_its_write_and_reads_the_primary(replica: str) -> None:
    """A shopper's app as in production: allauth's X-Session-Token, no cookie (the middlewares
    around the view rebind `request.user` to the cookie session's anonymous user afterwards)."""
    product = catalog()
    shopper = ShopperFactory()
    login = Client().post("/_allauth/app/v1/auth/login", data=json.dumps({"email": shopper.email, "password": PASSWORD}),
                          content_type="application/json")
    assert login.status_code == 200, login.content
    token = {"HTTP_X_SESSION_TOKEN": login.json()["meta"]["session_token"]}
    cache.delete(routing.PIN_KEY.format(user_id=shopper.pk))  # the login itself (a POST) pins too
    placed = Client().post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 1}]},
                           content_type="application/json", **token)
    assert placed.status_code == 201, placed.content
    assert _pinned(shopper)
    with served() as queries:
        assert Client().get("/api/v1/products/", **token).status_code == 200
    assert not queries.replica


def test_a_refused_or_anonymous_write_pins_nobody(replica: str) -> None:
    shopper, client = new_shopper_client()
    refused = client.post("/api/v1/orders/", {"lines": []}, format="json")
    assert refused.status_code == 400
    assert not _pinned(shopper)
    assert Client().post("/api/v1/orders/", {}, content_type="application/json").status_code in (401, 403)


def test_a_fulfilled_order_pins_its_shopper(replica: str, tasks: Any) -> None:
    """The worker's write (the goods) pins the shopper too: their next library read is the primary's."""
    product = catalog()
    shopper, client = new_shopper_client()
    placed = client.post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 1}]}, format="json")
    client.post(f"/api/v1/orders/{placed.json()['id']}/payment/simulate", {"outcome": "succeeded"}, format="json")
    cache.delete(routing.PIN_KEY.format(user_id=shopper.pk))
    tasks.drain()
    assert "fulfilment.fulfil_order" in tasks.ran and _pinned(shopper)


def test_the_ops_console_reads_the_replica_after_signing_in_on_the_primary(replica: str) -> None:
    catalog()
    operator = OperatorFactory()
    browser = Client()
    browser.force_login(operator)
    with served() as queries:
        page = browser.get("/ops/")
        live = browser.get("/ops/live/")
        api = browser.get("/api/v1/ops/queues")
    assert (page.status_code, live.status_code, api.status_code) == (200, 200, 200)
    assert queries.replica
    # Only who is asking is read from the primary (the session's user), before the scope opens.
    assert all("accounts_user" in sql or "django_session" in sql for sql in queries.primary), queries.primary


# --- what never reads a replica ---------------------------------------------------------------------


def test_inventory_decisions_never_read_a_replica(replica: str, tasks: Any) -> None:
    """Placement's claims, payment application, fulfilment and cancellation, with the router active:
    not one query on the replica (which would refuse any write: it is read-only)."""
    product = catalog(edition_size=3)
    _shopper, client = new_shopper_client()
    with served() as queries:
        placed = client.post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 1}]}, format="json")
        order_id = placed.json()["id"]
        client.post(f"/api/v1/orders/{order_id}/payment/simulate", {"outcome": "succeeded"}, format="json")
        tasks.drain()
        checkout_and_cancel(client, product)
        sold_out = [client.post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 3}]}, format="json")]
    assert placed.status_code == 201 and sold_out[0].status_code == 409
    assert {"payments.webhook_process", "fulfilment.fulfil_order"} <= set(tasks.ran)
    assert queries.primary and queries.replica == [], queries.replica


def test_inside_a_scope_transactions_and_writes_use_the_primary(replica: str) -> None:
    product = catalog()
    with routing.replica_reads() as alias:
        assert alias == REPLICA
        assert router.db_for_read(Product) == REPLICA
        with transaction.atomic():
            # Reads inside a transaction: the primary.
            assert router.db_for_read(Product) == "default"
            assert Product.objects.get(pk=product.pk)._state.db == "default"
        assert Product.objects.get(pk=product.pk)._state.db == REPLICA
        # A locked read (a write's routing) or a write sends the rest of the scope's reads to the
        # primary: what follows may read its own write back, or decide on what it locked.
        with transaction.atomic():
            locked = Product.objects.select_for_update().get(pk=product.pk)
            assert locked._state.db == "default"
        assert routing.current_replica() is None
        assert Product.objects.get(pk=product.pk)._state.db == "default"
    with routing.replica_reads():
        Product.objects.filter(pk=product.pk).update(price=100)
        assert routing.current_replica() is None
        assert Product.objects.get(pk=product.pk).price == 100
    # Outside a scope, even an object read from the replica follows the primary.
    assert router.db_for_read(Product, instance=locked) == "default"


def test_unsafe_requests_never_open_a_scope(replica: str) -> None:
    class FakeRequest:
        method = "POST"
        user = None

    assert routing.run_with_replica_reads(FakeRequest(), routing.current_replica) is None
    FakeRequest.method = "GET"
    assert routing.run_with_replica_reads(FakeRequest(), routing.current_replica) == REPLICA


def test_a_replica_that_cannot_be_reached_is_skipped(transactional_db: None, settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    _add_replica(settings, PORT=closed_port, HOST="127.0.0.1")
    try:
        product = catalog()
        listed = Client().get("/api/v1/products/")
        assert listed.status_code == 200 and [p["id"] for p in listed.json()["results"]] == [product.pk]
        assert routing._down_until.get(REPLICA, 0) > time.monotonic()
        with served(replica=False) as queries:
            assert Client().get("/api/v1/products/").status_code == 200
        assert queries.primary  # skipped while marked down: no second connection attempt
    finally:
        _remove_replica()


def test_redis_down_means_the_primary(replica: str, monkeypatch: Any) -> None:
    class Down:
        def get(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("redis down")

        def set(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("redis down")

    monkeypatch.setattr(routing, "cache", Down())
    assert routing.is_pinned(user_id=1) is True
    routing.pin_to_primary(user_id=1)  # logged, not raised: the write already committed


def test_the_pin_event_subscriber_is_registered() -> None:
    assert routing.pin_after_fulfilment in [fn for _, fn in events._subscribers["order.fulfilled"]]


def test_migrations_never_target_a_replica(replica: str) -> None:
    assert router.allow_migrate(REPLICA, "catalog") is False
    assert router.allow_migrate("default", "catalog") is True


# --- DATABASES from the environment -----------------------------------------------------------------


def _parse(url: str) -> dict[str, Any]:
    import environ

    return environ.Env.db_url_config(url)


def test_replica_urls_become_aliases_with_the_primarys_options() -> None:
    primary = _parse("postgres://app:pw@pg1:5432/market")
    primary.update({"ENGINE": "django_prometheus.db.backends.postgresql", "CONN_MAX_AGE": 60, "OPTIONS": {"pool": {"max_size": 4}}})
    databases = database_settings(primary=primary, replica_urls=["postgres://ro:pw2@pg2:5433/market", " "],
                                  parse_url=_parse, pool_mode="session", lock_timeout_ms=3000, statement_timeout_ms=30000)
    assert list(databases) == ["default", "replica_0"] and replica_aliases(databases) == ["replica_0"]
    replica = databases["replica_0"]
    assert (replica["HOST"], replica["PORT"], replica["USER"], replica["PASSWORD"]) == ("pg2", 5433, "ro", "pw2")
    assert replica["ENGINE"] == databases["default"]["ENGINE"] and replica["CONN_MAX_AGE"] == 60
    assert replica["OPTIONS"] == databases["default"]["OPTIONS"] == {
        "pool": {"max_size": 4}, "options": "-c lock_timeout=3000 -c statement_timeout=30000"}
    assert replica["TEST"] == {"MIRROR": "default"} and "TEST" not in databases["default"]


def test_transaction_pooling_moves_the_timeouts_into_each_transaction() -> None:
    databases = database_settings(primary=_parse("postgres://app@pgbouncer:6432/market"), replica_urls=[],
                                  parse_url=_parse, pool_mode="transaction", lock_timeout_ms=2500, statement_timeout_ms=9000)
    default = databases["default"]
    assert default["ENGINE"] == "marketplace.db.backend"
    assert "options" not in default["OPTIONS"] and default["OPTIONS"]["prepare_threshold"] is None
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert default["TRANSACTION_PARAMETERS"] == {"lock_timeout": "2500", "statement_timeout": "9000"}


@pytest.mark.parametrize(("mode", "urls"), [("statement", []), ("session", ["mysql://x@h/db"])])
def test_bad_database_configuration_is_refused(mode: str, urls: list[str]) -> None:
    with pytest.raises(ImproperlyConfigured):
        database_settings(primary=_parse("postgres://a@h/db"), replica_urls=urls, parse_url=_parse, pool_mode=mode,
                          lock_timeout_ms=1, statement_timeout_ms=1)
