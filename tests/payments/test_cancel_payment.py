"""Cancelling an order cancels its payment at the provider first (issue 12, "a cancelled order
stays cancelled"): with the simulated provider end to end, and with the Stripe adapter against a
fake at the SDK's HTTP-client seam (the cancel call's shape and its error mapping)."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from apps.catalog.models import Edition, Product
from apps.orders import services as order_services
from apps.orders.models import Order, OrderEvent, OrderStatus
from apps.payments.models import LedgerEntry, Payment, PaymentStatus, Refund, RefundKind, RefundStatus, WebhookEvent
from apps.payments.providers import PaymentProviderError, PaymentState
from apps.payments.providers.simulated import SimulatedProvider
from apps.payments.providers.stripe import ProviderCalledInTransaction, StripeProvider
from apps.payments.services import orders as payment_orders
from apps.payments.services import payment_apply_state, payment_create_for_order
from apps.payments.services.webhooks import webhook_record_simulated
from marketplace.errors import InvalidState
from tests.payments.fake_stripe import FakeStripeHTTPClient

# transaction=True: on_commit hooks (task enqueueing) fire mid-test, and the Stripe adapter may
# be called (it refuses inside a transaction).
pytestmark = pytest.mark.django_db(transaction=True)


def _cancel(client, order):
    client.raise_request_exception = False  # a 503 is reported like a server error; see the answer
    return client.post(f"/api/v1/orders/{order.pk}/cancel")


def _codes(response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


def _held(order) -> int:
    return Edition.objects.filter(order_line_link__line__order=order).count()


class CancelSpy:
    """Counts the provider's cancel calls; optionally answers or fails instead of the provider."""

    def __init__(self, monkeypatch, *, answer: str | None = None, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer, self.error = answer, error
        original = SimulatedProvider.cancel_payment
        spy = self

        def cancel_payment(provider, *, payment_id: int, reference: str, reason: str = "requested_by_customer") -> PaymentState:
            spy.calls.append({"payment_id": payment_id, "reference": reference, "reason": reason})
            if spy.error is not None:
                raise spy.error
            if spy.answer is not None:
                payment = Payment.objects.get(pk=payment_id)
                return PaymentState(reference=reference, status=spy.answer, amount=payment.amount, currency=payment.currency)
            return original(provider, payment_id=payment_id, reference=reference, reason=reason)

        monkeypatch.setattr(SimulatedProvider, "cancel_payment", cancel_payment)


# --- Simulated provider, through the API -----------------------------------------------------------


def test_cancel_before_payment_cancels_the_provider_payment_and_releases_the_hold(client_a, order, tasks, products,
                                                                                monkeypatch):
    spy = CancelSpy(monkeypatch)
    payment = Payment.objects.get(order=order)

    response = _cancel(client_a, order)

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert spy.calls == [{"payment_id": payment.pk, "reference": payment.provider_reference,
                          "reason": "requested_by_customer"}]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert _held(order) == 0 and Product.objects.get(pk=products["pass"].pk).stock_taken == 0
    # The shopper's payment arriving now is refused by the provider: it can never succeed.
    assert webhook_record_simulated(payment=payment, outcome="succeeded") is None
    assert SimulatedProvider().retrieve_payment(reference=payment.provider_reference).status == "cancelled"
    tasks.run_payments()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert not LedgerEntry.objects.filter(order=order).exists() and not Refund.objects.exists()


def test_cancel_twice_answers_the_same_and_asks_the_provider_once(client_a, order, monkeypatch):
    spy = CancelSpy(monkeypatch)

    first, second = _cancel(client_a, order), _cancel(client_a, order)

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "cancelled"
    assert len(spy.calls) == 1
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.CANCELLED).count() == 1


def test_cancel_after_the_payment_succeeded_is_409_and_the_order_is_paid(client_a, order, tasks):
    payment = Payment.objects.get(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")  # paid; its webhook not processed yet

    response = _cancel(client_a, order)

    assert response.status_code == 409 and _codes(response) == ["already_paid"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # recorded by the cancel, as the webhook would
    assert ("fulfilment.fulfil_order", {"order_id": str(order.pk)}) in tasks.sent
    tasks.run_payments()
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert not Refund.objects.exists()
    assert not WebhookEvent.objects.filter(type="payment_intent.canceled").exists()
    again = _cancel(client_a, order)  # the order is paid now: refused like any paid order
    assert again.status_code == 409 and _codes(again) == ["invalid_state"]


def test_cancel_while_the_payment_is_processing_is_409_and_changes_nothing(client_a, order, monkeypatch):
    CancelSpy(monkeypatch, answer="processing")

    first, second = _cancel(client_a, order), _cancel(client_a, order)

    assert first.status_code == second.status_code == 409
    assert _codes(first) == _codes(second) == ["payment_in_progress"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and _held(order) == 1
    assert Payment.objects.get(order=order).status == PaymentStatus.PROCESSING


def test_provider_unreachable_is_a_clear_retryable_error_and_the_order_is_unchanged(client_a, order, monkeypatch):
    spy = CancelSpy(monkeypatch, error=PaymentProviderError("connection reset", retryable=True))
    payment = Payment.objects.get(order=order)

    response = _cancel(client_a, order)

    assert response.status_code == 503 and _codes(response) == ["payment_provider_unavailable"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and _held(order) == 1
    assert Payment.objects.get(pk=payment.pk).status == payment.status
    assert not OrderEvent.objects.filter(order=order, to_status=OrderStatus.CANCELLED).exists()
    # Retrying once the provider answers cancels it.
    spy.error = None
    retried = _cancel(client_a, order)
    assert retried.status_code == 200 and retried.json()["status"] == "cancelled"
    assert len(spy.calls) == 2


def test_cancel_answers_409_refusals_in_chinese(client_a, order, monkeypatch):
    CancelSpy(monkeypatch, answer="processing")

    response = client_a.post(f"/api/v1/orders/{order.pk}/cancel", HTTP_ACCEPT_LANGUAGE="zh-Hans")

    assert _codes(response) == ["payment_in_progress"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["errors"][0]["detail"])


# --- The safety nets -------------------------------------------------------------------------------


def test_a_success_reported_for_a_cancelled_order_is_refunded_never_paid_late(order, tasks):
    # The provider reports success anyway (a provider-side race): the order stays cancelled.
    payment_orders.order_cancel_with_payment(order_id=order.pk)
    payment = Payment.objects.get(order=order)
    state = PaymentState(reference=payment.provider_reference or "", status="succeeded", amount=payment.amount,
                         currency=payment.currency, charge_reference="sim_ch_x")

    assert payment_apply_state(payment_id=payment.pk, state=state) == "voided_cancelled"
    tasks.run_payments()

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert not OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).exists()
    refund = Refund.objects.get(payment=payment)
    assert refund.kind == RefundKind.VOID and refund.status == RefundStatus.SUCCEEDED and refund.amount == payment.amount
    assert payment.needs_attention
    with pytest.raises(InvalidState):
        order_services.order_mark_paid_late(order_id=order.pk)


def test_no_new_attempt_is_created_for_a_cancelled_order(client_a, order):
    stale = Order.objects.get(pk=order.pk)
    payment_orders.order_cancel_with_payment(order_id=order.pk)

    with pytest.raises(InvalidState):
        payment_create_for_order(order=stale)  # a paying request that loaded the order before

    assert Payment.objects.filter(order=order).count() == 1
    assert client_a.post(f"/api/v1/orders/{order.pk}/payment/simulate", {"outcome": "succeeded"},
                         format="json").status_code == 409


def test_an_attempt_created_while_cancelling_is_cancelled_too(order, monkeypatch):
    first = Payment.objects.get(order=order)
    created: list[Payment] = []
    original = SimulatedProvider.cancel_payment

    def cancel_payment(provider, **kwargs: Any) -> PaymentState:
        if not created:  # the shopper asks for a new attempt while the first is being cancelled
            created.append(payment_create_for_order(order=Order.objects.get(pk=order.pk)))
        return original(provider, **kwargs)

    monkeypatch.setattr(SimulatedProvider, "cancel_payment", cancel_payment)

    cancelled = payment_orders.order_cancel_with_payment(order_id=order.pk)

    assert cancelled.status == OrderStatus.CANCELLED
    assert set(Payment.objects.filter(order=order).values_list("status", flat=True)) == {PaymentStatus.CANCELLED}
    assert webhook_record_simulated(payment=created[0], outcome="succeeded") is None
    assert first.pk != created[0].pk


def test_an_attempt_whose_create_is_in_flight_is_closed_and_its_create_refused(order, monkeypatch):
    original = SimulatedProvider.create_payment

    def create_payment(provider, **kwargs: Any):
        # The order is cancelled while the provider creates the attempt (its row has no reference yet).
        payment_orders.order_cancel_with_payment(order_id=order.pk)
        return original(provider, **kwargs)

    monkeypatch.setattr(SimulatedProvider, "create_payment", create_payment)

    with pytest.raises(InvalidState):
        payment_create_for_order(order=Order.objects.get(pk=order.pk))

    second = Payment.objects.get(order=order, attempt=2)
    assert second.status == PaymentStatus.CANCELLED and second.client_secret == ""
    assert second.provider_reference  # kept, so a stray success would find it (and be refunded)
    assert SimulatedProvider().retrieve_payment(reference=second.provider_reference).status == "cancelled"


# --- Expiry ----------------------------------------------------------------------------------------


def test_the_expiry_sweep_cancels_the_provider_payment_first(order, tasks, monkeypatch):
    spy = CancelSpy(monkeypatch)
    Order.objects.filter(pk=order.pk).update(expires_at=order.expires_at - timedelta(hours=1))

    assert payment_orders.orders_expire_due() == 1

    assert [call["reason"] for call in spy.calls] == ["abandoned"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.CANCELLED
    assert webhook_record_simulated(payment=payment, outcome="succeeded") is None


def test_the_expiry_sweep_leaves_a_paid_or_processing_order_to_its_payment(order, tasks, monkeypatch):
    Order.objects.filter(pk=order.pk).update(expires_at=order.expires_at - timedelta(hours=1))
    spy = CancelSpy(monkeypatch, answer="processing")

    assert payment_orders.orders_expire_due() == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT and _held(order) == 1

    spy.answer = None
    webhook_record_simulated(payment=Payment.objects.get(order=order), outcome="succeeded")
    assert payment_orders.orders_expire_due() == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_the_expiry_sweep_retries_later_when_the_provider_is_down(order, monkeypatch):
    Order.objects.filter(pk=order.pk).update(expires_at=order.expires_at - timedelta(hours=1))
    spy = CancelSpy(monkeypatch, error=PaymentProviderError("timeout", retryable=True))

    assert payment_orders.orders_expire_due() == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT

    spy.error = None
    assert payment_orders.orders_expire_due() == 1


# --- Stripe adapter against the fake ---------------------------------------------------------------


class CancellingFakeStripe(FakeStripeHTTPClient):
    """The fake, plus POST /v1/payment_intents/{id}/cancel with Stripe's state rules."""

    CANCELLABLE = {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None) -> Any:
        from urllib.parse import parse_qsl, urlparse

        parts = urlparse(url).path.strip("/").split("/")[1:]
        if method == "post" and len(parts) == 3 and parts[0] == "payment_intents" and parts[2] == "cancel":
            params = dict(parse_qsl(post_data or "", keep_blank_values=True))
            self.requests.append({"method": method, "path": urlparse(url).path, "params": params,
                                  "key": (headers or {}).get("Idempotency-Key")})
            if self.fail_next:
                status, self.fail_next = self.fail_next, None
                return json.dumps({"error": {"message": "boom", "type": "api_error"}}), status, {}
            intent = self.objects[parts[1]]
            if intent["status"] not in self.CANCELLABLE:
                message = f"This PaymentIntent's status is {intent['status']}; it cannot be canceled."
                return json.dumps({"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                                             "message": message, "payment_intent": intent}}), 400, {}
            intent.update(status="canceled", cancellation_reason=params.get("cancellation_reason"))
            return json.dumps(intent), 200, {"request-id": "req_fake"}
        return super().request(method, url, headers, post_data, _usage=_usage)


@pytest.fixture
def fake() -> CancellingFakeStripe:
    return CancellingFakeStripe()


@pytest.fixture
def stripe_provider(fake) -> StripeProvider:
    return StripeProvider(api_key="sk_test_fake", webhook_secret="whsec_x", api_base="http://stripe.fake",
                          http_client=fake, max_network_retries=0)


def _intent(provider: StripeProvider, fake: CancellingFakeStripe, status: str = "requires_payment_method") -> str:
    reference = provider.create_payment(payment_id=5, amount=1999, currency="CNY", order_number="EX-1",
                                        order_id="o-1").reference
    fake.objects[reference]["status"] = status
    return reference


def test_stripe_cancel_sends_the_reason_and_answers_cancelled(stripe_provider, fake):
    reference = _intent(stripe_provider, fake)

    state = stripe_provider.cancel_payment(payment_id=5, reference=reference)

    sent = fake.requests[-1]
    assert (sent["method"], sent["path"]) == ("post", f"/v1/payment_intents/{reference}/cancel")
    assert sent["params"] == {"cancellation_reason": "requested_by_customer"}
    assert state.status == "cancelled" and state.reference == reference
    # Cancelling again: Stripe refuses (already canceled); the adapter answers the state, cancelled.
    assert stripe_provider.cancel_payment(payment_id=5, reference=reference, reason="abandoned").status == "cancelled"
    assert fake.requests[-2]["params"] == {"cancellation_reason": "abandoned"}
    assert (fake.requests[-1]["method"], fake.requests[-1]["path"]) == ("get", f"/v1/payment_intents/{reference}")


@pytest.mark.parametrize(("stripe_status", "ours"), [("succeeded", "succeeded"), ("processing", "processing")])
def test_stripe_refuses_to_cancel_taken_money_and_the_adapter_reports_it(stripe_provider, fake, stripe_status, ours):
    reference = _intent(stripe_provider, fake, stripe_status)

    state = stripe_provider.cancel_payment(payment_id=5, reference=reference)

    assert state.status == ours
    assert fake.objects[reference]["status"] == stripe_status


@pytest.mark.parametrize(("http_status", "retryable"), [(500, True), (429, True), (401, False)])
def test_stripe_cancel_errors_map_to_provider_errors(stripe_provider, fake, http_status, retryable):
    reference = _intent(stripe_provider, fake)
    fake.fail_next = http_status

    with pytest.raises(PaymentProviderError) as raised:
        stripe_provider.cancel_payment(payment_id=5, reference=reference)

    assert raised.value.retryable is retryable
    assert fake.objects[reference]["status"] == "requires_payment_method"


def test_stripe_cancel_is_never_sent_inside_a_transaction(stripe_provider, fake):
    reference = _intent(stripe_provider, fake)
    sent = len(fake.requests)

    with transaction.atomic(), pytest.raises(ProviderCalledInTransaction):
        stripe_provider.cancel_payment(payment_id=5, reference=reference)

    assert len(fake.requests) == sent


@pytest.fixture
def stripe_order(order, settings, fake):
    """The order's payment, as a Stripe PaymentIntent in the fake."""
    settings.PAYMENTS = {**settings.PAYMENTS, "STRIPE_HTTP_CLIENT": fake, "STRIPE_MAX_NETWORK_RETRIES": 0}
    settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE = "sk_test_fake", "http://stripe.fake"
    payment = Payment.objects.get(order=order)
    reference = StripeProvider.from_settings().create_payment(
        payment_id=payment.pk, amount=payment.amount, currency=payment.currency, order_number=order.number,
        order_id=str(order.pk)).reference
    Payment.objects.filter(pk=payment.pk).update(provider="stripe", provider_reference=reference)
    return order


def test_cancelling_a_stripe_order_cancels_its_payment_intent(client_a, stripe_order, fake):
    reference = Payment.objects.get(order=stripe_order).provider_reference

    response = _cancel(client_a, stripe_order)

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert fake.objects[reference]["status"] == "canceled"
    assert Payment.objects.get(order=stripe_order).status == PaymentStatus.CANCELLED


def test_cancelling_a_stripe_order_whose_intent_succeeded_is_409_and_paid(client_a, stripe_order, fake):
    reference = Payment.objects.get(order=stripe_order).provider_reference or ""
    fake.objects[reference].update(status="succeeded", latest_charge="ch_1")

    response = _cancel(client_a, stripe_order)

    assert response.status_code == 409 and _codes(response) == ["already_paid"]
    assert Order.objects.get(pk=stripe_order.pk).status == OrderStatus.PAID
    assert Payment.objects.get(order=stripe_order).charge_reference == "ch_1"


def test_cancelling_a_stripe_order_while_stripe_is_down_is_503(client_a, stripe_order, fake):
    fake.fail_next = 503

    response = _cancel(client_a, stripe_order)

    assert response.status_code == 503 and _codes(response) == ["payment_provider_unavailable"]
    assert Order.objects.get(pk=stripe_order.pk).status == OrderStatus.PENDING_PAYMENT
