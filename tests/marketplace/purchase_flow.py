"""A shopper's whole purchase through the API, for the routing and PgBouncer tests: order, pay
(simulated provider, through the webhook event path), fulfil, read the library and the
certificate; and an order cancelled after checkout. Tasks run in this thread, as a worker would."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from django.apps import apps

from apps.catalog.models import Edition, EditionStatus, Product
from apps.orders.models import Order, OrderStatus
from apps.payments.models import ConnectAccount, ConnectStatus
from tests.factories import ExhibitorFactory, ProductFactory, ShopperFactory, authenticated_client


class TaskRunner:
    """Replaces `app.send_task`: records each message; `drain()` runs them (and what they enqueue)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.ran: list[str] = []

    def __call__(self, name: str, args: Any = None, kwargs: dict[str, Any] | None = None, **options: Any) -> None:
        self.sent.append((name, dict(kwargs or {})))

    def drain(self) -> None:
        from config.celery import app

        for config in apps.get_app_configs():  # what a worker's autodiscovery imports
            if importlib.util.find_spec(f"{config.name}.tasks") is not None:
                importlib.import_module(f"{config.name}.tasks")
        while self.sent:
            name, kwargs = self.sent.pop(0)
            app.tasks[name].run(**kwargs)
            self.ran.append(name)


def install_tasks(monkeypatch: Any, settings: Any) -> TaskRunner:
    from config.celery import app

    runner = TaskRunner()
    monkeypatch.setattr(app, "send_task", runner)
    settings.PAYMENT_PROVIDER = "simulated"
    return runner


def catalog(edition_size: int = 5) -> Product:
    exhibitor = ExhibitorFactory(commission_bps=1000)
    ConnectAccount.objects.create(exhibitor=exhibitor, provider="simulated", account_reference=f"sim_acct_{exhibitor.pk}",
                                  status=ConnectStatus.ENABLED)
    return ProductFactory(exhibitor=exhibitor, collectible=True, edition_size=edition_size, price=8800)


def buy(client: Any, product: Product, tasks: TaskRunner) -> dict[str, Any]:
    """Order one edition, pay, let the workers fulfil; the shopper's reads afterwards. Asserts each step."""
    placed = client.post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 1}]}, format="json")
    assert placed.status_code == 201, placed.content
    order_id = placed.json()["id"]
    paid = client.post(f"/api/v1/orders/{order_id}/payment/simulate", {"outcome": "succeeded"}, format="json")
    assert paid.status_code == 202, paid.content
    tasks.drain()
    order = Order.objects.get(pk=order_id)
    assert order.status == OrderStatus.FULFILLED, order.status
    library = client.get("/api/v1/library/")
    assert library.status_code == 200, library.content
    items = [item for item in library.json()["results"] if item["order"]["id"] == order_id]
    assert len(items) == 1 and items[0]["edition"], library.content
    code = items[0]["edition"]["certificate_code"]
    certificate = client.get(f"/api/v1/certificates/{code}/")
    assert certificate.status_code == 200 and certificate.json()["valid"] is True, certificate.content
    return {"order_id": order_id, "certificate_code": code}


def checkout_and_cancel(client: Any, product: Product) -> str:
    """Order, open the payment (checkout), then cancel: the edition goes back on sale."""
    taken = Edition.objects.filter(product=product).exclude(status=EditionStatus.AVAILABLE).count()
    placed = client.post("/api/v1/orders/", {"lines": [{"product": product.pk, "quantity": 1}]}, format="json")
    assert placed.status_code == 201, placed.content
    order_id = placed.json()["id"]
    assert client.post(f"/api/v1/orders/{order_id}/payment").status_code == 200
    cancelled = client.post(f"/api/v1/orders/{order_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == OrderStatus.CANCELLED, cancelled.content
    assert Edition.objects.filter(product=product).exclude(status=EditionStatus.AVAILABLE).count() == taken
    return order_id


def new_shopper_client() -> tuple[Any, Any]:
    shopper = ShopperFactory()
    return shopper, authenticated_client(shopper)
