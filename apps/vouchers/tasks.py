"""Voucher tasks: thin, idempotent, enqueued or scheduled by beat."""

from celery import shared_task

from apps.vouchers import services
from marketplace.tasks import BaseTask


@shared_task(name="vouchers.expire_due", base=BaseTask)
def expire_due() -> int:
    """Mark vouchers past their validity expired (and back in the pool where the campaign says so)."""
    return services.vouchers_expire_due()
