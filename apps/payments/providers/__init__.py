"""Payment providers. `settings.PAYMENT_PROVIDER` names the one new payments use; existing rows
keep using the provider recorded on them (`get_provider(payment.provider)`)."""

from django.conf import settings

from apps.payments.providers.base import (
    AccountState,
    PaymentProvider,
    PaymentProviderError,
    PaymentState,
    ProviderObject,
    ProviderPayment,
    VerifiedEvent,
    WebhookPayloadError,
    WebhookSignatureError,
)


def get_provider(name: str | None = None) -> PaymentProvider:
    """The provider called `name`, or the configured one. Raises PaymentProviderError if unknown."""
    key = name or getattr(settings, "PAYMENT_PROVIDER", "simulated") or "simulated"
    if key == "simulated":
        from apps.payments.providers.simulated import SimulatedProvider

        return SimulatedProvider()
    if key == "stripe":
        from apps.payments.providers.stripe import StripeProvider

        return StripeProvider.from_settings()
    raise PaymentProviderError(f"Unknown payment provider {key!r}.", retryable=False)


def configured_provider_name() -> str:
    return str(getattr(settings, "PAYMENT_PROVIDER", "simulated") or "simulated")


__all__ = [
    "AccountState", "PaymentProvider", "PaymentProviderError", "PaymentState", "ProviderObject", "ProviderPayment",
    "VerifiedEvent", "WebhookPayloadError", "WebhookSignatureError", "configured_provider_name", "get_provider",
]
