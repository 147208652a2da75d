"""The offline provider: no network, no in-memory state, ids derived from our own row ids.

A simulated payment's outcome is whatever the simulated events in the webhook inbox say (the
shopper's POST .../payment/simulate stores them there; a cancel stores a `payment_intent.canceled`
one), so "re-reading the PaymentIntent" works exactly as with Stripe: from a source other than the
event being processed. As at Stripe, a cancelled payment can no longer succeed and a succeeded one
can no longer be cancelled. Refunds, transfers
and reversals succeed at once with deterministic ids, so the same id comes back for the same
operation (idempotent by construction).

A Connect account is created at once too, but its payouts are enabled only once the exhibitor has
completed the simulated onboarding page (/simulated/connect/<account>/onboarding/): completing it
stores a simulated `account.updated` event in the same inbox, and `retrieve_account` reads that
row, as Stripe reports what the exhibitor did on its hosted page.
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
CANCELED_EVENT = "payment_intent.canceled"
ACCOUNT_EVENT = "account.updated"


def payment_reference(payment_id: int) -> str:
    return f"sim_pi_{payment_id}"


def account_onboarded_event_id(account_reference: str) -> str:
    """The id of the one inbox event recording that this account's onboarding was completed."""
    return f"sim_evt_{account_reference}_onboarded"


def onboarding_path(account_reference: str) -> str:
    """Where the simulated stand-in for Stripe's hosted onboarding page lives in our app."""
    return f"/simulated/connect/{account_reference}/onboarding/"


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
        types = list(WebhookEvent.objects.filter(provider=self.name, object_reference=reference)
                     .order_by("pk").values_list("type", flat=True))
        # Success and cancellation are both final: the first one stored wins, whatever came after
        # (the inbox never holds both: `webhook_record_simulated` stores one only without the
        # other, under the payment's lock). A failure is not final: the shopper may pay again.
        final = next((t for t in types if t in (SUCCEEDED_EVENT, CANCELED_EVENT)), None)
        if final == SUCCEEDED_EVENT:
            return PaymentState(reference=reference, status="succeeded", amount=payment.amount,
                                currency=payment.currency, charge_reference=f"sim_ch_{payment.pk}")
        if final == CANCELED_EVENT:
            return PaymentState(reference=reference, status="cancelled", amount=payment.amount, currency=payment.currency)
        if FAILED_EVENT in types:
            return PaymentState(reference=reference, status="failed", amount=payment.amount, currency=payment.currency,
                                failure_message="Simulated decline.")
        return PaymentState(reference=reference, status="requires_payment", amount=payment.amount,
                            currency=payment.currency)

    def cancel_payment(self, *, payment_id: int, reference: str, reason: str = "requested_by_customer") -> PaymentState:
        """Store a simulated `payment_intent.canceled` event, unless the payment succeeded first
        (then the cancel is refused and `succeeded` returned), and answer the resulting state."""
        from apps.payments.models import Payment
        from apps.payments.services.webhooks import webhook_record_simulated

        payment = Payment.objects.filter(provider=self.name, provider_reference=reference).first()
        if payment is None:
            raise PaymentProviderError(f"No simulated payment {reference}.", retryable=False)
        webhook_record_simulated(payment=payment, outcome="canceled")
        return self.retrieve_payment(reference=reference)

    def create_refund(self, *, refund_id: int, payment_reference: str, amount: int) -> ProviderObject:
        return ProviderObject(reference=f"sim_re_{refund_id}", status="succeeded")

    def retrieve_refund(self, *, reference: str) -> ProviderObject:
        return ProviderObject(reference=reference, status="succeeded")

    def create_account(self, *, exhibitor_id: int, email: str, country: str) -> str:
        return f"sim_acct_{exhibitor_id}"

    def create_account_link(self, *, account_reference: str, exhibitor_id: int, attempt: int) -> str:
        base = str(getattr(settings, "PUBLIC_BASE_URL", "") or getattr(settings, "FRONTEND_URL", "")
                   or "http://127.0.0.1:8000").rstrip("/")
        return f"{base}{onboarding_path(account_reference)}?attempt={attempt}"

    def retrieve_account(self, *, reference: str) -> AccountState:
        from apps.payments.models import WebhookEvent

        onboarded = WebhookEvent.objects.filter(provider=self.name, event_id=account_onboarded_event_id(reference),
                                                type=ACCOUNT_EVENT).exists()
        return AccountState(reference=reference, payouts_enabled=onboarded, details_submitted=onboarded)

    def create_transfer(self, *, transfer_id: int, amount: int, currency: str, destination: str,
                        transfer_group: str, source_transaction: str, attempt: int = 1) -> ProviderObject:
        return ProviderObject(reference=f"sim_tr_{transfer_id}")

    def create_transfer_reversal(self, *, reversal_id: int, transfer_reference: str, amount: int,
                                 attempt: int = 1) -> ProviderObject:
        return ProviderObject(reference=f"sim_trr_{reversal_id}")

    def verify_webhook(self, *, body: bytes, signature: str | None) -> VerifiedEvent:
        raise WebhookSignatureError("The simulated provider takes no webhooks over HTTP.")
