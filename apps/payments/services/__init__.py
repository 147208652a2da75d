"""Writes for payments, split by sub-domain (payments, webhooks, refunds, payouts, reconcile).
Other apps import from here."""

from apps.payments.services.payments import (
    payment_apply_state,
    payment_create_for_order,
    payment_get_or_create_for_order,
    payment_paying_order,
    payment_simulate,
    payment_sync,
    payment_try_create_for_order,
)

__all__ = ["payment_apply_state", "payment_create_for_order", "payment_get_or_create_for_order",
           "payment_paying_order", "payment_simulate", "payment_sync", "payment_try_create_for_order"]
