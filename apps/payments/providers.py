"""The payment provider seam: services talk to a `PaymentProvider`, never to an SDK directly.

`settings.PAYMENT_PROVIDER` names the provider for new payments. Only `simulated` exists until the
payments issue adds Stripe; it makes no network call and hands out a fake client secret, so the
whole flow runs offline.
"""

import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


class PaymentProviderError(Exception):
    """The provider could not be reached or refused the request; the payment can be retried."""


@dataclass(frozen=True)
class ProviderPayment:
    reference: str
    client_secret: str
    status: str


class PaymentProvider(Protocol):
    name: str

    def create_payment(self, *, payment_id: int, amount: int, currency: str, order_number: str) -> ProviderPayment:
        """Create the provider's payment (e.g. a PaymentIntent). `payment_id` is the idempotency key."""
        ...


class SimulatedProvider:
    name = "simulated"

    def create_payment(self, *, payment_id: int, amount: int, currency: str, order_number: str) -> ProviderPayment:
        reference = f"sim_pi_{payment_id}_{secrets.token_hex(6)}"
        secret = f"{reference}_secret_{secrets.token_urlsafe(18)}"
        return ProviderPayment(reference=reference, client_secret=secret, status="requires_payment")


_PROVIDERS: dict[str, type] = {"simulated": SimulatedProvider}


def get_provider(name: str | None = None) -> PaymentProvider:
    """The provider called `name`, or the configured one."""
    key = name or getattr(settings, "PAYMENT_PROVIDER", "simulated") or "simulated"
    try:
        return _PROVIDERS[key]()  # type: ignore[no-any-return]
    except KeyError as exc:
        raise PaymentProviderError(f"Unknown payment provider {key!r}.") from exc
