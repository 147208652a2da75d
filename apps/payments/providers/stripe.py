"""Stripe through the official SDK (`stripe.StripeClient`).

- Every POST carries an idempotency key derived from our row id (`<prefix>-<operation>-<id>`), so
  the SDK's own network retries and our task retries are safe (Stripe's documented rule); GETs are
  safe by nature. Hence `max_network_retries` is set for the client as a whole.
- Short timeouts: a slow Stripe must not hold a worker (or a request) for 80 s, the SDK default.
- Never inside a transaction: each call first checks `connection.in_atomic_block` and raises
  `ProviderCalledInTransaction`, so a Stripe round trip can never hold row locks (DESIGN.md habit 4).
- `base_addresses`/`http_client` are injectable: tests point it at localstripe or a fake.
"""

import json
import time
from typing import Any

import stripe
from django.conf import settings
from django.db import connection

from apps.payments.providers.base import (
    AccountState,
    PaymentProviderError,
    PaymentState,
    ProviderObject,
    ProviderPayment,
    VerifiedEvent,
    WebhookPayloadError,
    WebhookSignatureError,
)


class ProviderCalledInTransaction(RuntimeError):
    """A provider call was attempted inside a database transaction (a bug, never retried)."""


_PI_STATUS = {
    "requires_payment_method": "requires_payment",
    "requires_confirmation": "requires_payment",
    "requires_action": "requires_payment",
    "processing": "processing",
    "requires_capture": "processing",
    "succeeded": "succeeded",
    "canceled": "cancelled",
}
_REFUND_STATUS = {"succeeded": "succeeded", "pending": "pending", "requires_action": "pending",
                  "failed": "failed", "canceled": "failed"}


def _id_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value.get("id", "")) if hasattr(value, "get") else str(getattr(value, "id", ""))


def _get(obj: Any, key: str, default: Any = None) -> Any:
    try:
        return obj[key]
    except (KeyError, TypeError, AttributeError):
        return default


_MAX_EVENT_DEPTH = 64


def _signature_timestamp(header: str) -> int:
    """`t` of a Stripe-Signature header the SDK has already verified (so it is there, an int)."""
    return int(next(item.split("=", 1)[1] for item in header.split(",") if item.split("=", 1)[0] == "t"))


def _storable(value: Any) -> bool:
    """No NUL and no unpaired surrogate in any key or string, at most _MAX_EVENT_DEPTH deep:
    what a Postgres jsonb column holds. Iterative, so a deep body cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_EVENT_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _event_payload(body: bytes) -> dict[str, Any]:
    """The signed body as an event: a JSON object with a non-empty string `id` (at most 255
    characters) and `type` (at most 100), `data` and `data.object` objects when present, whose
    `data.object.id` is a string when present. Raises WebhookPayloadError otherwise."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookPayloadError("The body is not JSON.") from exc
    if not isinstance(payload, dict) or not _storable(payload):
        raise WebhookPayloadError("The body is not a storable JSON object.")
    event_id, event_type, data = payload.get("id"), payload.get("type"), payload.get("data", {})
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255):
        raise WebhookPayloadError("The event has no usable id.")
    if not (isinstance(event_type, str) and 0 < len(event_type) <= 100):
        raise WebhookPayloadError("The event has no usable type.")
    obj = data.get("object", {}) if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not isinstance(obj.get("id", ""), str) or len(obj.get("id", "")) > 255:
        raise WebhookPayloadError("The event's data is not an object with a string id.")
    return payload


class StripeProvider:
    name = "stripe"

    def __init__(self, *, api_key: str, webhook_secret: str, api_base: str = "", http_client: Any = None,
                 timeout: float = 10.0, max_network_retries: int = 2, idempotency_prefix: str = "mkt",
                 payment_method_types: list[str] | None = None, webhook_tolerance: int = 300,
                 connect_country: str = "CN", return_url: str = "", refresh_url: str = "") -> None:
        if http_client is None:
            http_client = stripe.RequestsClient(timeout=timeout)
        base_addresses: Any = {"api": api_base, "connect": api_base} if api_base else None
        self.client = stripe.StripeClient(api_key, base_addresses=base_addresses, http_client=http_client,
                                          max_network_retries=max_network_retries)
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        self.prefix = idempotency_prefix
        self.payment_method_types = payment_method_types or ["card", "alipay", "wechat_pay"]
        self.connect_country = connect_country
        self.return_url = return_url
        self.refresh_url = refresh_url

    @classmethod
    def from_settings(cls, **overrides: Any) -> "StripeProvider":
        conf: dict[str, Any] = dict(settings.PAYMENTS)
        options = {
            "api_key": settings.STRIPE_SECRET_KEY,
            "webhook_secret": settings.STRIPE_WEBHOOK_SECRET,
            "api_base": settings.STRIPE_API_BASE,
            "timeout": conf["STRIPE_TIMEOUT_SECONDS"],
            "max_network_retries": conf["STRIPE_MAX_NETWORK_RETRIES"],
            "idempotency_prefix": conf["IDEMPOTENCY_PREFIX"],
            "payment_method_types": list(conf["PAYMENT_METHOD_TYPES"]),
            "webhook_tolerance": conf["WEBHOOK_TOLERANCE_SECONDS"],
            "connect_country": conf["CONNECT_COUNTRY"],
            "return_url": conf["CONNECT_RETURN_URL"],
            "refresh_url": conf["CONNECT_REFRESH_URL"],
            "http_client": conf.get("STRIPE_HTTP_CLIENT"),
        }
        options.update(overrides)
        return cls(**options)

    # --- plumbing ---------------------------------------------------------------------------------

    def _key(self, operation: str, object_id: int | str) -> str:
        return f"{self.prefix}-{operation}-{object_id}"

    def _attempt_key(self, operation: str, object_id: int, attempt: int) -> str:
        """Attempt 1 keeps the original key (rows sent before attempts were numbered)."""
        return self._key(operation, object_id if attempt <= 1 else f"{object_id}-a{attempt}")

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if connection.in_atomic_block:
            raise ProviderCalledInTransaction("Stripe must not be called inside a database transaction.")
        try:
            return fn(*args, **kwargs)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise PaymentProviderError(str(exc), retryable=True) from exc
        except stripe.StripeError as exc:
            status = getattr(exc, "http_status", None) or 0
            raise PaymentProviderError(str(exc), retryable=status >= 500 or status == 409) from exc

    # --- payments ---------------------------------------------------------------------------------

    def create_payment(self, *, payment_id: int, amount: int, currency: str, order_number: str,
                       order_id: str) -> ProviderPayment:
        # No `description`/`transfer_group`/`automatic_payment_methods`: the transfers carry the
        # group and name the charge (source_transaction), and explicit types fix the methods.
        intent = self._call(
            self.client.v1.payment_intents.create,
            params={
                "amount": amount, "currency": currency.lower(), "payment_method_types": self.payment_method_types,
                "metadata": {"order_id": order_id, "order_number": order_number, "payment_id": str(payment_id)},
            },
            options={"idempotency_key": self._key("payment", payment_id)},
        )
        state = self._state(intent)
        return ProviderPayment(reference=intent["id"], client_secret=intent["client_secret"] or "", status=state.status)

    def _state(self, intent: Any) -> PaymentState:
        raw = intent["status"]
        error = _get(intent, "last_payment_error")
        status = _PI_STATUS.get(raw, "requires_payment")
        if raw == "requires_payment_method" and error:
            status = "failed"
        return PaymentState(
            reference=intent["id"], status=status, amount=int(intent["amount"]), currency=str(intent["currency"]).upper(),
            charge_reference=_id_of(_get(intent, "latest_charge")),
            failure_message=str(_get(error, "message", "") or "")[:500] if error else "",
        )

    def retrieve_payment(self, *, reference: str) -> PaymentState:
        return self._state(self._call(self.client.v1.payment_intents.retrieve, reference))

    def cancel_payment(self, *, payment_id: int, reference: str, reason: str = "requested_by_customer") -> PaymentState:
        # No fixed idempotency key: cancelling is idempotent by nature, and a key would replay a
        # refusal ("processing") for 24 hours after the intent became cancellable again. The SDK
        # still adds its own key to its network retries.
        try:
            intent = self._call(self.client.v1.payment_intents.cancel, reference,
                                params={"cancellation_reason": reason})
        except PaymentProviderError as exc:
            cause = exc.__cause__
            if isinstance(cause, stripe.InvalidRequestError) and cause.code == "payment_intent_unexpected_state":
                # Already succeeded, processing or cancelled: Stripe decided which came first.
                return self.retrieve_payment(reference=reference)
            raise
        return self._state(intent)

    # --- refunds ----------------------------------------------------------------------------------

    def create_refund(self, *, refund_id: int, payment_reference: str, amount: int) -> ProviderObject:
        refund = self._call(
            self.client.v1.refunds.create,
            params={"payment_intent": payment_reference, "amount": amount, "metadata": {"refund_id": str(refund_id)}},
            options={"idempotency_key": self._key("refund", refund_id)},
        )
        return ProviderObject(reference=refund["id"], status=_REFUND_STATUS.get(refund["status"], "pending"))

    def retrieve_refund(self, *, reference: str) -> ProviderObject:
        refund = self._call(self.client.v1.refunds.retrieve, reference)
        return ProviderObject(reference=refund["id"], status=_REFUND_STATUS.get(refund["status"], "pending"))

    # --- Connect ----------------------------------------------------------------------------------

    def create_account(self, *, exhibitor_id: int, email: str, country: str) -> str:
        params: dict[str, Any] = {
            "type": "express", "country": country or self.connect_country,
            "capabilities": {"transfers": {"requested": True}}, "metadata": {"exhibitor_id": str(exhibitor_id)},
        }
        if email:
            params["email"] = email
        account = self._call(self.client.v1.accounts.create, params=params,
                             options={"idempotency_key": self._key("account", exhibitor_id)})
        return str(account["id"])

    def create_account_link(self, *, account_reference: str, exhibitor_id: int, attempt: int) -> str:
        link = self._call(
            self.client.v1.account_links.create,
            params={"account": account_reference, "type": "account_onboarding",
                    "return_url": self.return_url, "refresh_url": self.refresh_url},
            options={"idempotency_key": self._key(f"account-link-{exhibitor_id}", attempt)},
        )
        return str(link["url"])

    def retrieve_account(self, *, reference: str) -> AccountState:
        account = self._call(self.client.v1.accounts.retrieve, reference)
        return AccountState(reference=account["id"], payouts_enabled=bool(_get(account, "payouts_enabled", False)),
                            details_submitted=bool(_get(account, "details_submitted", False)))

    def create_transfer(self, *, transfer_id: int, amount: int, currency: str, destination: str,
                        transfer_group: str, source_transaction: str, attempt: int = 1) -> ProviderObject:
        params: dict[str, Any] = {"amount": amount, "currency": currency.lower(), "destination": destination,
                                  "transfer_group": transfer_group, "metadata": {"transfer_id": str(transfer_id)}}
        if source_transaction:
            params["source_transaction"] = source_transaction
        transfer = self._call(self.client.v1.transfers.create, params=params,
                              options={"idempotency_key": self._attempt_key("transfer", transfer_id, attempt)})
        return ProviderObject(reference=str(transfer["id"]))

    def create_transfer_reversal(self, *, reversal_id: int, transfer_reference: str, amount: int,
                                 attempt: int = 1) -> ProviderObject:
        reversal = self._call(self.client.v1.transfers.reversals.create, transfer_reference,
                              params={"amount": amount, "metadata": {"reversal_id": str(reversal_id)}},
                              options={"idempotency_key": self._attempt_key("reversal", reversal_id, attempt)})
        return ProviderObject(reference=str(reversal["id"]))

    # --- webhooks ---------------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, signature: str | None) -> VerifiedEvent:
        """Check the Stripe-Signature header (HMAC, timestamp within the tolerance either way) before
        anything is parsed or stored, then the event's shape. Raises WebhookSignatureError on a
        missing, wrong, too old or future signature, WebhookPayloadError on a signed body that is
        not an event (see `_event_payload`)."""
        if not signature or not self.webhook_secret:
            raise WebhookSignatureError("Missing signature or webhook secret.")
        try:
            stripe.WebhookSignature.verify_header(body, signature, self.webhook_secret, tolerance=self.webhook_tolerance)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise WebhookSignatureError(str(exc)) from exc
        # The SDK only refuses timestamps too far in the past; one too far in the future is as
        # suspect (a signature minted ahead of time would stay replayable for that long).
        timestamp = _signature_timestamp(signature)
        if self.webhook_tolerance and timestamp > time.time() + self.webhook_tolerance:
            raise WebhookSignatureError(f"Timestamp in the future, outside the tolerance zone ({timestamp}).")
        payload = _event_payload(body)
        obj = _get(payload.get("data") or {}, "object", None) or {}
        return VerifiedEvent(event_id=payload["id"], type=payload["type"], object_reference=str(obj.get("id") or ""),
                             payload=payload)
