"""Contract tests against localstripe 1.15.10 over HTTP on loopback (never the internet):
PaymentIntent create / confirm / refund through our Stripe provider, and localstripe's signed
webhooks delivered into our endpoint (served by pytest-django's live_server).

If the localstripe binary is missing these tests FAIL (they are not skipped silently)."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from apps.orders.models import OrderStatus
from apps.payments.models import PaymentStatus, RefundStatus, WebhookEvent
from apps.payments.services import payment_create_for_order
from apps.payments.services.refunds import refund_create
from tests.payments.conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)  # polling an external process; there is no event to wait on
    return False


@pytest.fixture(scope="session")
def localstripe_url():
    binary = shutil.which("localstripe", path=str(Path(sys.executable).parent))
    assert binary, "localstripe 1.15.10 is not installed in the virtualenv (requirements-dev.txt)"
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/v1/events", auth=("sk_test_x", ""), timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        assert _wait(up), "localstripe did not start"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def stripe_settings(settings, localstripe_url, live_server):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_localstripe"
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PAYMENTS = {**settings.PAYMENTS, "STRIPE_MAX_NETWORK_RETRIES": 0}
    response = requests.post(f"{localstripe_url}/_config/webhooks/ours", timeout=5, data={
        "url": f"{live_server.url}/api/v1/payments/stripe/webhook/", "secret": WEBHOOK_SECRET})
    assert response.status_code == 200
    return localstripe_url


def _confirm_as_the_client(url: str, intent_id: str, card: str = "4242424242424242") -> None:
    auth = ("sk_test_localstripe", "")
    method = requests.post(f"{url}/v1/payment_methods", auth=auth, timeout=5, data={
        "type": "card", "card[number]": card, "card[exp_month]": "12", "card[exp_year]": "2030", "card[cvc]": "123"})
    assert method.status_code == 200, method.text
    # localstripe answers 500 to confirm(payment_method=...): attach it first, then confirm.
    attach = requests.post(f"{url}/v1/payment_intents/{intent_id}", auth=auth, timeout=5,
                           data={"payment_method": method.json()["id"]})
    assert attach.status_code == 200, attach.text
    confirm = requests.post(f"{url}/v1/payment_intents/{intent_id}/confirm", auth=auth, timeout=5)
    assert confirm.status_code == 200, confirm.text


@pytest.mark.django_db(transaction=True)
def test_pay_through_localstripe_webhook_and_refund(stripe_settings, order, tasks, operator):
    # given a PaymentIntent created through our provider
    payment = payment_create_for_order(order=order)
    assert payment.provider == "stripe" and payment.provider_reference.startswith("pi_")
    assert payment.client_secret.startswith(payment.provider_reference)

    # when the client confirms it and localstripe delivers its signed webhook to our endpoint
    _confirm_as_the_client(stripe_settings, payment.provider_reference)
    assert _wait(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists()), "no webhook arrived"
    event = WebhookEvent.objects.get(type="payment_intent.succeeded")
    assert event.provider == "stripe" and event.object_reference == payment.provider_reference
    tasks.run_payments()

    # then the task re-read the PaymentIntent and the order is paid
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.charge_reference.startswith("ch_")
    assert order.status == OrderStatus.PAID

    # and a refund of one line goes through localstripe
    line = order.lines.order_by("id").first()
    refund = refund_create(order_id=order.pk, line_ids=[line.pk], actor=operator)
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_reference.startswith("re_")
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
