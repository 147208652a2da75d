"""The Stripe webhook endpoint and the inbox: signatures checked before anything is written,
duplicates accepted and ignored, concurrent and out-of-order processing converging on one result."""

import threading
import time

import pytest
from django.db import connection

from apps.orders.models import OrderEvent, OrderStatus
from apps.payments.models import LedgerEntry, Payment, Transfer, WebhookEvent
from apps.payments.services.webhooks import webhook_process, webhook_record_simulated
from tests.payments.conftest import sign, stripe_event

URL = "/api/v1/payments/stripe/webhook/"
BODY = stripe_event("evt_1", "payment_intent.succeeded", "pi_unknown")


def _post(client, body, signature):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, data=body, content_type="application/json", **headers)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signature", [
    None,
    "",
    sign(BODY, secret="whsec_forged"),
    sign(BODY, timestamp=int(time.time()) - 301),
    "t=123,v1=deadbeef",
], ids=["unsigned", "empty", "forged", "replayed-old", "garbage"])
def test_bad_signatures_answer_400_and_write_nothing(client, tasks, signature):
    response = _post(client, BODY, signature)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_signature"
    assert WebhookEvent.objects.count() == 0 and tasks.sent == []


@pytest.mark.django_db(transaction=True)
def test_tampered_body_answers_400(client, tasks):
    signature = sign(BODY)
    tampered = BODY.replace(b"pi_unknown", b"pi_other00")
    assert _post(client, tampered, signature).status_code == 400
    assert WebhookEvent.objects.count() == 0 and tasks.sent == []


@pytest.mark.django_db(transaction=True)
def test_valid_event_is_stored_once_and_enqueued_once(client, tasks):
    for _ in range(3):
        assert _post(client, BODY, sign(BODY)).status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id, event.type, event.object_reference) == (
        "stripe", "evt_1", "payment_intent.succeeded", "pi_unknown")
    assert event.payload["data"]["object"]["id"] == "pi_unknown"
    assert tasks.named("payments.webhook_process") == [{"event_pk": event.pk}]
    # an event about nothing of ours is ignored, with the reason kept
    tasks.run_payments()
    event.refresh_from_db()
    assert event.status == "ignored" and event.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_the_task_routes_to_the_webhooks_queue():
    from config.celery import app

    assert app.amqp.router.route({}, "payments.webhook_process")["queue"].name == "webhooks"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_same_event_processed_concurrently_and_out_of_order_changes_state_once(order, tasks):
    payment = Payment.objects.get(order=order)
    webhook_record_simulated(payment=payment, outcome="failed")  # arrives "late", after success below
    webhook_record_simulated(payment=payment, outcome="succeeded")
    event_pks = list(WebhookEvent.objects.order_by("-pk").values_list("pk", flat=True))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            webhook_process(event_pk=event_pks[i % 2], replay=True)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tasks.run_payments()
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert len(tasks.named("fulfilment.fulfil_order")) == 1
    assert LedgerEntry.objects.filter(order=order, kind="capture").count() == 1
    assert Transfer.objects.filter(order=order).count() == 2
    assert LedgerEntry.objects.filter(order=order, kind="transfer").count() == 2
