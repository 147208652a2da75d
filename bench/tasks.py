"""S4's ceiling: a Celery task that does nothing, sent to the fulfilment queue like the real one.

Loaded into the bench worker only (`celery worker --include bench.tasks`). It uses the project's
BaseTask (acks_late, the same result backend), so the difference to `fulfilment.fulfil_order` is
the fulfilment work itself.
"""

from celery import shared_task


@shared_task(name="bench.noop")
def noop(order_id: str) -> None:
    return None
