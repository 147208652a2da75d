"""The Stripe provider against a fake at the SDK's HTTP-client seam: idempotency keys and replay,
Connect (which localstripe lacks), the no-call-inside-a-transaction rule, error mapping."""

import pytest
from django.db import transaction

from apps.payments.providers import PaymentProviderError
from apps.payments.providers.stripe import ProviderCalledInTransaction, StripeProvider
from tests.payments.fake_stripe import FakeStripeHTTPClient


@pytest.fixture
def fake() -> FakeStripeHTTPClient:
    return FakeStripeHTTPClient()


@pytest.fixture
def provider(fake) -> StripeProvider:
    return StripeProvider(api_key="sk_test_fake", webhook_secret="whsec_x", api_base="http://stripe.fake",
                          http_client=fake, max_network_retries=0)


def test_create_payment_sends_methods_metadata_and_a_deterministic_key(provider, fake):
    result = provider.create_payment(payment_id=41, amount=1999, currency="CNY", order_number="EX-1", order_id="o-1")
    sent = fake.requests[-1]
    assert sent["key"] == "mkt-payment-41"
    assert sent["params"]["currency"] == "cny" and sent["params"]["amount"] == "1999"
    assert [v for k, v in sorted(sent["params"].items()) if k.startswith("payment_method_types")] == [
        "card", "alipay", "wechat_pay"]
    assert sent["params"]["metadata[payment_id]"] == "41"
    assert "transfer_group" not in sent["params"] and "description" not in sent["params"]
    assert result.client_secret.startswith(result.reference) and result.status == "requires_payment"


def test_repeated_calls_with_the_same_operation_id_replay_one_object(provider, fake):
    first = provider.create_refund(refund_id=7, payment_reference="pi_1", amount=500)
    again = provider.create_refund(refund_id=7, payment_reference="pi_1", amount=500)
    other = provider.create_refund(refund_id=8, payment_reference="pi_1", amount=500)
    assert first.reference == again.reference != other.reference
    assert fake.created == 2
    assert [r["key"] for r in fake.requests] == ["mkt-refund-7", "mkt-refund-7", "mkt-refund-8"]


def test_connect_account_link_transfer_and_reversal(provider, fake):
    account = provider.create_account(exhibitor_id=3, email="x@brand.test", country="CN")
    assert provider.create_account(exhibitor_id=3, email="x@brand.test", country="CN") == account  # replayed
    url = provider.create_account_link(account_reference=account, exhibitor_id=3, attempt=1)
    assert url.startswith("https://connect.example.test/setup/")
    assert fake.requests[-1]["params"]["type"] == "account_onboarding"
    transfer = provider.create_transfer(transfer_id=9, amount=9719, currency="CNY", destination=account,
                                        transfer_group="order-uuid", source_transaction="ch_1")
    sent = fake.requests[-1]["params"]
    assert (sent["transfer_group"], sent["source_transaction"], sent["destination"]) == ("order-uuid", "ch_1", account)
    assert fake.requests[-1]["key"] == "mkt-transfer-9"
    # A retry after a definite refusal is a new attempt: a new key, or Stripe replays the refusal
    provider.create_transfer(transfer_id=9, amount=9719, currency="CNY", destination=account,
                             transfer_group="order-uuid", source_transaction="ch_1", attempt=2)
    assert fake.requests[-1]["key"] == "mkt-transfer-9-a2"
    reversal = provider.create_transfer_reversal(reversal_id=2, transfer_reference=transfer.reference, amount=100)
    assert fake.requests[-1]["path"] == f"/v1/transfers/{transfer.reference}/reversals"
    assert fake.requests[-1]["key"] == "mkt-reversal-2" and reversal.reference.startswith("trr_")
    state = provider.retrieve_account(reference=account)
    assert state.payouts_enabled is False


@pytest.mark.django_db
def test_a_call_inside_a_transaction_raises_before_any_request(provider, fake):
    with transaction.atomic(), pytest.raises(ProviderCalledInTransaction):
        provider.create_refund(refund_id=1, payment_reference="pi_1", amount=1)
    assert fake.requests == []


def test_server_errors_are_retryable_and_client_errors_are_not(provider, fake):
    fake.fail_next = 500
    with pytest.raises(PaymentProviderError) as server:
        provider.retrieve_payment(reference="pi_nope")
    assert server.value.retryable
    fake.fail_next = 400
    with pytest.raises(PaymentProviderError) as client:
        provider.retrieve_payment(reference="pi_nope")
    assert not client.value.retryable
