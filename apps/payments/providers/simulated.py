"""The offline provider: no network, no in-memory state, ids derived from our own row ids.

A simulated payment's outcome is whatever the simulated events in the webhook inbox say (the
shopper's POST .../payment/simulate stores them there), so "re-reading the PaymentIntent" works
exactly as with Stripe: from a source other than the event being processed. Refunds, transfers,
reversals and Connect accounts succeed at once with deterministic ids, so the same id comes back
for the same operation (idempotent by construction).
"""

import secrets

from django.conf import settings

from apps.payments.providers.base import (
    AccountState,
    PaymentProviderError,
    PaymentState,
    ProviderObject,
    ProviderPayment,
    VerifiedEvent,
    WebhookSignatureError,
)

SUCCEEDED_EVENT = "payment_intent.succeeded"
FAILED_EVENT = "payment_intent.payment_failed"


def payment_reference(payment_id: int) -> str:
    return f"sim_pi_{payment_id}"


class SimulatedProvider:
    name = "simulated"

    def create_payment(self, *, payment_id: int, amount: int, currency: str, order_number: str,
                       order_id: str) -> ProviderPayment:
        reference = payment_reference(payment_id)
        return ProviderPayment(reference=reference, client_secret=f"{reference}_secret_{secrets.token_urlsafe(18)}",
                               status="requires_payment")

    def retrieve_payment(self, *, reference: str) -> PaymentState:
        from apps.payments.models import Payment, WebhookEvent

        payment = Payment.objects.filter(provider=self.name, provider_reference=reference).first()
        if payment is None:
            raise PaymentProviderError(f"No simulated payment {reference}.", retryable=False)
        types = set(WebhookEvent.objects.filter(provider=self.name, object_reference=reference)
                    .values_list("type", flat=True))
        if SUCCEEDED_EVENT in types:  # success is final, whatever order the events came in
            return PaymentState(reference=reference, status="succeeded", amount=payment.amount,
                                currency=payment.currency, charge_reference=f"sim_ch_{payment.pk}")
        if FAILED_EVENT in types:
            return PaymentState(reference=reference, status="failed", amount=payment.amount, currency=payment.currency,
                                failure_message="Simulated decline.")
        return PaymentState(reference=reference, status="requires_payment", amount=payment.amount,
                            currency=payment.currency)

    def create_refund(self, *, refund_id: int, payment_reference: str, amount: int) -> ProviderObject:
        return ProviderObject(reference=f"sim_re_{refund_id}", status="succeeded")

    def retrieve_refund(self, *, reference: str) -> ProviderObject:
        return ProviderObject(reference=reference, status="succeeded")

    def create_account(self, *, exhibitor_id: int, email: str, country: str) -> str:
        return f"sim_acct_{exhibitor_id}"

    def create_account_link(self, *, account_reference: str, exhibitor_id: int, attempt: int) -> str:
        base = str(getattr(settings, "FRONTEND_URL", "http://127.0.0.1:8000")).rstrip("/")
        return f"{base}/simulated/connect/{account_reference}/onboarding?attempt={attempt}"

    def retrieve_account(self, *, reference: str) -> AccountState:
        return AccountState(reference=reference, payouts_enabled=True, details_submitted=True)

    def create_transfer(self, *, transfer_id: int, amount: int, currency: str, destination: str,
                        transfer_group: str, source_transaction: str) -> ProviderObject:
        return ProviderObject(reference=f"sim_tr_{transfer_id}")

    def create_transfer_reversal(self, *, reversal_id: int, transfer_reference: str, amount: int) -> ProviderObject:
        return ProviderObject(reference=f"sim_trr_{reversal_id}")

    def verify_webhook(self, *, body: bytes, signature: str | None) -> VerifiedEvent:
        raise WebhookSignatureError("The simulated provider takes no webhooks over HTTP.")
