"""The schema tells the truth to everyone: schemathesis runs every operation of GET /api/schema/
in-process (WSGI) as an anonymous caller, a shopper, an exhibitor's staff member and an operator
(real `X-Session-Token`s from the allauth login), positive and negative data, then chains
operations statefully (place an order, then read, pay, simulate or cancel it...) as each of the
three signed-in identities. Every response must be a documented status, content type, header
set and body; negative data must be refused.

One world for the module (the demo catalog, a fulfilled order with an item of every kind, a
pending order, the three accounts and their sessions), built in a transaction that is rolled
back at the end; each test runs in a savepoint inside it. The WSGI handler's signals would close
the test's connection, and with it that transaction: `keep_test_connection` detaches them.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from apps.fulfilment.services import fulfilment_fulfil_order
from tests.factories import PASSWORD, OperatorFactory, ShopperFactory, add_download_file, paid_order, place_order, staff_of
from tests.test_schema import SCHEMA_LOAD_ERROR, keep_test_connection, make_demo_catalog, schema  # noqa: F401 (a fixture)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
# Stateful scenarios also check that a resource just created can be read, and that one gone stays gone.
STATEFUL_CHECKS = [*CHECKS, use_after_free, ensure_resource_availability]
IDENTITIES = ("anonymous", "shopper", "staff", "operator")
# Budget: about a minute for the whole file on a CI machine.
FUZZ = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
STATEFUL = settings(max_examples=12, stateful_step_count=6, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True, database=None, phases=[Phase.generate])


@dataclass(frozen=True)
class World:
    tokens: dict[str, str]
    ids: dict[str, Any]

    def headers(self, identity: str) -> dict[str, str]:
        return {"X-Session-Token": self.tokens[identity]} if identity in self.tokens else {}


def _login(email: str) -> str:
    response = Client().post("/_allauth/app/v1/auth/login", data=json.dumps({"email": email, "password": PASSWORD}),
                             content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def _build_world() -> World:
    catalog = make_demo_catalog()
    jade = catalog["jade"]
    from apps.catalog.models import Product

    wallpapers = Product.objects.get(slug="wallpapers")
    add_download_file(wallpapers)
    shopper = ShopperFactory(email="fuzz-shopper@expo.test")
    staff = staff_of(jade, email="fuzz-staff@jade.expo.test")
    operator = OperatorFactory(email="fuzz-operator@expo.test")
    order = paid_order(shopper, (catalog["drop"], 1), (wallpapers, 1), (catalog["consult"], 1, catalog["slots"][0]),
                       (catalog["booth_pass"], 1))
    entitlements = fulfilment_fulfil_order(order_id=order.pk)
    pending = place_order(shopper, (catalog["drop"], 1))
    return World(
        tokens={"shopper": _login(shopper.email), "staff": _login(staff.email), "operator": _login(operator.email)},
        ids={
            "order": order.pk, "pending": pending.pk, "entitlements": [e.pk for e in entitlements],
            "pass_token": next(e.pass_token for e in entitlements if e.pass_token), "wallpapers": wallpapers.pk,
            "consult": catalog["consult"].pk, **{slug: Product.objects.get(slug=slug).pk for slug in ("sold-out-keys", "future-drop")},
        },
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    private = {"BACKEND": "django.core.files.storage.FileSystemStorage",
               "OPTIONS": {"location": str(tmp_path_factory.mktemp("private")), "base_url": None}}
    from django.conf import settings as django_settings

    with (django_db_blocker.unblock(), override_settings(STORAGES={**django_settings.STORAGES, "private": private}),
          transaction.atomic()):
        yield _build_world()
        transaction.set_rollback(True)


if schema is not None:

    @pytest.mark.slow
    @pytest.mark.django_db
    @pytest.mark.parametrize("identity", IDENTITIES)
    @schema.parametrize()
    @FUZZ
    def test_every_operation_keeps_the_schema_for_everyone(case, identity, world, keep_test_connection):
        case.call_and_validate(headers=world.headers(identity), checks=CHECKS)

    @pytest.mark.slow
    @pytest.mark.django_db
    @pytest.mark.parametrize("identity", ["shopper", "staff", "operator"])
    def test_sequences_of_operations_keep_the_schema(identity, world, keep_test_connection):
        headers = world.headers(identity)

        class Machine(schema.as_state_machine()):  # type: ignore[misc]
            def get_call_kwargs(self, case):
                return {"headers": headers}

            def validate_response(self, response, case, additional_checks=None, **kwargs):
                case.validate_response(response, checks=STATEFUL_CHECKS, headers=headers, transport_kwargs=kwargs or None,
                                       recorder=getattr(self, "recorder", None))

        Machine.run(settings=STATEFUL)

    def _call(world: World, identity: str, method: str, path: str, status: int, **data: Any) -> Any:
        response = schema[path][method].Case(**data).call_and_validate(headers=world.headers(identity), checks=CHECKS)
        assert response.status_code == status, (method, path, data, response.text)
        return response

    @pytest.mark.django_db
    def test_real_flows_answer_what_the_schema_says(world, keep_test_connection):
        """What fuzzing rarely reaches: a placed order, each documented refusal, a library with an
        item of every kind, a pass looked up and redeemed twice, the operators' queues."""
        ids, line = world.ids, {"lines": [{"product": world.ids["wallpapers"]}]}
        key = {"Idempotency-Key": "schema-flow-1"}
        _call(world, "shopper", "POST", "/api/v1/orders/", 201, body=line, headers=key)
        replay = _call(world, "shopper", "POST", "/api/v1/orders/", 201, body=line, headers=key)
        assert replay.headers["idempotent-replayed"] == ["true"]
        _call(world, "shopper", "POST", "/api/v1/orders/", 422, body={"lines": [{"product": ids["wallpapers"], "quantity": 2}]},
              headers=key)
        _call(world, "shopper", "POST", "/api/v1/orders/", 400, body=line, headers={"Idempotency-Key": "x" * 256})
        _call(world, "shopper", "POST", "/api/v1/orders/", 409, body={"lines": [{"product": ids["sold-out-keys"]}]})
        _call(world, "shopper", "POST", "/api/v1/orders/", 409, body={"lines": [{"product": ids["future-drop"]}]})
        _call(world, "shopper", "POST", "/api/v1/orders/", 400, body={"lines": [{"product": ids["consult"]}]})
        _call(world, "shopper", "POST", "/api/v1/orders/", 400, body={"lines": [{"product": 10**9}]})
        pending = {"order_id": str(ids["pending"])}
        _call(world, "shopper", "POST", "/api/v1/orders/{order_id}/cancel", 200, path_parameters=pending)
        _call(world, "shopper", "POST", "/api/v1/orders/{order_id}/cancel", 200, path_parameters=pending)  # a no-op
        _call(world, "shopper", "POST", "/api/v1/orders/{order_id}/cancel", 409, path_parameters={"order_id": str(ids["order"])})
        _call(world, "shopper", "POST", "/api/v1/orders/{order_id}/payment", 409, path_parameters=pending)
        _call(world, "shopper", "POST", "/api/v1/orders/{order_id}/payment/simulate", 409, path_parameters=pending,
              body={"outcome": "succeeded"})
        _call(world, "shopper", "GET", "/api/v1/orders/{order_id}/", 200, path_parameters={"order_id": str(ids["order"])})
        _call(world, "staff", "GET", "/api/v1/orders/{order_id}/", 404, path_parameters={"order_id": str(ids["order"])})
        library = _call(world, "shopper", "GET", "/api/v1/library/", 200).json()["results"]
        assert {item["kind"] for item in library} == {"collectible", "download", "service", "pass"}
        for entitlement_id in ids["entitlements"]:
            _call(world, "shopper", "GET", "/api/v1/library/{entitlement_id}/", 200, path_parameters={"entitlement_id": entitlement_id})
        _call(world, "shopper", "GET", "/api/v1/orders/", 400, query={"page_size": "null"})
        _call(world, "shopper", "GET", "/api/v1/products/", 400, query={"kind": "foo"})
        token = {"token": ids["pass_token"]}
        _call(world, "shopper", "POST", "/api/v1/passes/redeem", 404, body=token)
        _call(world, "staff", "POST", "/api/v1/passes/lookup", 200, body=token)
        _call(world, "staff", "POST", "/api/v1/passes/redeem", 200, body=token)
        _call(world, "staff", "POST", "/api/v1/passes/redeem", 409, body=token)
        _call(world, "shopper", "GET", "/api/v1/ops/queues", 403)
        _call(world, "staff", "GET", "/api/v1/ops/queues", 200)
        _call(world, "operator", "GET", "/api/v1/ops/queues", 200)

else:

    def test_every_operation_keeps_the_schema_for_everyone():
        pytest.fail(f"the schema did not load: {SCHEMA_LOAD_ERROR!r}")
