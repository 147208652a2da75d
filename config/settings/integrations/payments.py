"""Payments: which provider takes new payments, Stripe client behaviour, payouts."""

from datetime import timedelta

from config.settings import env as E

# Without a Stripe key the offline `simulated` provider runs the same event path (DESIGN.md).
PAYMENT_PROVIDER = E.PAYMENT_PROVIDER or ("stripe" if E.STRIPE_SECRET_KEY else "simulated")
STRIPE_SECRET_KEY = E.STRIPE_SECRET_KEY
STRIPE_PUBLISHABLE_KEY = E.STRIPE_PUBLISHABLE_KEY
STRIPE_WEBHOOK_SECRET = E.STRIPE_WEBHOOK_SECRET
STRIPE_API_BASE = E.STRIPE_API_BASE

PAYMENTS: dict[str, object] = {
    "PAYMENT_METHOD_TYPES": ("card", "alipay", "wechat_pay"),
    # A Stripe call must not hold a worker or a request for the SDK's default 80 s.
    "STRIPE_TIMEOUT_SECONDS": 10.0,
    # Safe because every POST carries our deterministic idempotency key.
    "STRIPE_MAX_NETWORK_RETRIES": 2,
    "IDEMPOTENCY_PREFIX": "mkt",
    "WEBHOOK_TOLERANCE_SECONDS": 300,
    "CONNECT_COUNTRY": "CN",
    "CONNECT_RETURN_URL": f"{E.FRONTEND_URL.rstrip('/')}/admin/payments/connectaccount/",
    "CONNECT_REFRESH_URL": f"{E.FRONTEND_URL.rstrip('/')}/admin/payments/connectaccount/",
    # Reconciliation leaves fresh payments/refunds alone: their webhook is probably on its way.
    "RECONCILE_GRACE": timedelta(minutes=5),
    "RECONCILE_BATCH": 200,
}
