"""Shared steps of the voucher tests: place an order with a voucher, pay it through the simulated
provider's webhook path, read an order's ledger."""

from typing import Any

from django.db.models import Sum

from apps.orders.services import LineRequest
from apps.payments.models import LedgerEntry
from apps.payments.services import payment_get_or_create_for_order
from apps.payments.services.orders import order_checkout
from apps.payments.services.webhooks import webhook_record_simulated


def checkout(user: Any, *lines: tuple[Any, int], voucher: Any = None) -> Any:
    order, _payment = order_checkout(user=user, lines=[LineRequest(product_id=p.pk, quantity=q) for p, q in lines],
                                     voucher_id=getattr(voucher, "pk", voucher))
    return order


def pay(order: Any, tasks: Any) -> Any:
    payment = payment_get_or_create_for_order(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    tasks.run_payments()
    order.refresh_from_db()
    return order


def ledger(order: Any) -> dict[str, int]:
    rows = LedgerEntry.objects.filter(order=order).values("kind").annotate(total=Sum("amount"))
    return {row["kind"]: row["total"] for row in rows}


def balance(order: Any) -> int:
    """capture + subsidy − (transfer − transfer_reversal) − commission − refund."""
    kinds = ledger(order)
    return (kinds.get("capture", 0) + kinds.get("subsidy", 0) - kinds.get("transfer", 0) + kinds.get("transfer_reversal", 0)
            - kinds.get("commission", 0) - kinds.get("refund", 0))
