"""The provider interface: services talk to a `PaymentProvider`, never to an SDK directly.

Every method that creates something takes an `idempotency_key` derived from one of our row ids,
so calling it again (a retry, a redelivered task) returns the same object instead of a new one.
Reads return the provider's current state; services never trust an event body's copy of it.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol


class PaymentProviderError(Exception):
    """The provider could not be reached or refused the request.

    `retryable` is True when the outcome is unknown (timeout, connection error, 5xx, rate limit):
    the same call with the same idempotency key may be repeated. False means a definite refusal.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class WebhookSignatureError(Exception):
    """A webhook whose signature is missing, wrong or too old."""


class WebhookPayloadError(Exception):
    """A correctly signed webhook whose body is not an event we can store (not a JSON object, no
    string `id` or `type`, text Postgres cannot hold)."""


@dataclass(frozen=True)
class ProviderPayment:
    reference: str
    client_secret: str
    status: str  # one of PaymentStatus' values


@dataclass(frozen=True)
class PaymentState:
    """The provider's current view of a payment (PaymentIntent)."""

    reference: str
    status: str  # PaymentStatus value
    amount: int
    currency: str
    charge_reference: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class ProviderObject:
    """A created refund, transfer or reversal: its id and a normalised status."""

    reference: str
    status: str = "succeeded"  # succeeded | pending | failed
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountState:
    reference: str
    payouts_enabled: bool
    details_submitted: bool


@dataclass(frozen=True)
class VerifiedEvent:
    event_id: str
    type: str
    object_reference: str
    payload: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    def create_payment(self, *, payment_id: int, amount: int, currency: str, order_number: str,
                       order_id: str) -> ProviderPayment: ...

    def retrieve_payment(self, *, reference: str) -> PaymentState: ...

    def cancel_payment(self, *, payment_id: int, reference: str, reason: str = "requested_by_customer") -> PaymentState:
        """Cancel the payment so that it can never take money, and return the provider's state
        afterwards: `cancelled`, or, when the provider refused because the money is already taken
        or being taken, `succeeded` / `processing` (never raised as an error). The provider
        decides which came first, the shopper paying or the cancel. Idempotent: cancelling a
        cancelled payment answers `cancelled`. Raises PaymentProviderError when the provider
        cannot be reached or refuses for another reason."""
        ...

    def create_refund(self, *, refund_id: int, payment_reference: str, amount: int) -> ProviderObject: ...

    def retrieve_refund(self, *, reference: str) -> ProviderObject: ...

    def create_account(self, *, exhibitor_id: int, email: str, country: str) -> str: ...

    def create_account_link(self, *, account_reference: str, exhibitor_id: int, attempt: int) -> str: ...

    def retrieve_account(self, *, reference: str) -> AccountState: ...

    def create_transfer(self, *, transfer_id: int, amount: int, currency: str, destination: str,
                        transfer_group: str, source_transaction: str, attempt: int = 1) -> ProviderObject: ...

    def create_transfer_reversal(self, *, reversal_id: int, transfer_reference: str, amount: int,
                                 attempt: int = 1) -> ProviderObject: ...

    def verify_webhook(self, *, body: bytes, signature: str | None) -> VerifiedEvent: ...
