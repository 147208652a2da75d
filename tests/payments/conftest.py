"""Payments fixtures: tasks are recorded instead of reaching the broker, and run by hand."""

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from apps.payments.models import ConnectAccount, ConnectStatus
from tests.factories import ExhibitorFactory, ProductFactory, place_order

WEBHOOK_SECRET = "whsec_test_secret"


class TaskRecorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, args: Any = None, kwargs: dict[str, Any] | None = None, **options: Any) -> None:
        self.sent.append((name, dict(kwargs or {})))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for task, kwargs in self.sent if task == name]

    def run_payments(self) -> None:
        """Run every recorded payments.* task (and those they enqueue) in this thread."""
        from apps.payments import tasks

        done = 0
        while done < len(self.sent):
            name, kwargs = self.sent[done]
            done += 1
            task = {"payments.webhook_process": tasks.webhook_process, "payments.transfers_create": tasks.transfers_create,
                    "payments.refund_send": tasks.refund_send}.get(name)
            if task is not None:
                task.run(**kwargs)


@pytest.fixture(autouse=True)
def tasks(monkeypatch) -> TaskRecorder:
    from config.celery import app

    recorder = TaskRecorder()
    monkeypatch.setattr(app, "send_task", recorder)
    return recorder


@pytest.fixture(autouse=True)
def _simulated(settings) -> None:
    settings.PAYMENT_PROVIDER = "simulated"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def stripe_event(event_id: str, event_type: str, object_id: str, **obj: Any) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "api_version": "2024-06-20",
                       "created": int(time.time()), "data": {"object": {"id": object_id, **obj}}}).encode()


def onboard(exhibitor) -> ConnectAccount:
    return ConnectAccount.objects.create(exhibitor=exhibitor, provider="simulated",
                                         account_reference=f"sim_acct_{exhibitor.pk}", status=ConnectStatus.ENABLED)


@pytest.fixture
def alpha(db):
    exhibitor = ExhibitorFactory(slug="alpha", name="Alpha", commission_bps=1000)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def bravo(db):
    exhibitor = ExhibitorFactory(slug="bravo", name="Bravo", commission_bps=1250)
    onboard(exhibitor)
    return exhibitor


@pytest.fixture
def products(alpha, bravo):
    """Alpha sells a 19.99 download and a 88.00 collectible; Bravo a 30.05 pass."""
    return {
        "download": ProductFactory(exhibitor=alpha, price=1999),
        "drop": ProductFactory(exhibitor=alpha, collectible=True, edition_size=3, price=8800),
        "pass": ProductFactory(exhibitor=bravo, pass_=True, price=3005, stock_total=5),
    }


@pytest.fixture
def order(shopper, products):
    from apps.payments.services import payment_create_for_order

    placed = place_order(shopper, (products["download"], 1), (products["drop"], 1), (products["pass"], 2))
    payment_create_for_order(order=placed)
    return placed
