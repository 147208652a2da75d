"""GET /api/v1/ops/queues: the console's numbers as JSON (operators; exhibitor staff get their scope)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.operations import selectors
from apps.operations.api.serializers import OpsQueuesOutputSerializer
from marketplace.db.routing import replica_reads_view

# Queues reported as order states; the rest of the API body refers to them by name.
ORDER_SOURCE = "orders"
FULFILMENT_FAILURES = "needs_attention"
PAYMENT_EVENTS = "webhook_events"


class IsOperatorOrExhibitorStaff(BasePermission):
    message = "Operators and exhibitor staff only."

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.can_view_console(request.user)


def _age_count(stat: selectors.QueueStat | None) -> dict[str, Any] | None:
    return None if stat is None else {"count": stat.count, "oldest_age_seconds": stat.oldest_age_seconds}


class OpsQueuesView(APIView):
    permission_classes = [IsOperatorOrExhibitorStaff]

    @extend_schema(
        tags=["operations"], operation_id="ops_queues", responses=OpsQueuesOutputSerializer,
        description="Counts and oldest ages of the order queues, fulfilment failures, unprocessed payment events, "
                    "Celery queue depths and workers. Exhibitor staff see only orders with lines of their exhibitors "
                    "(and no platform data); shoppers are refused (403).",
    )
    @replica_reads_view
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        overview = selectors.ops_overview(user=request.user)
        from apps.operations.queues import queues_for

        order_queues = {q.name for q in queues_for(request.user) if q.source.key == ORDER_SOURCE}
        celery = overview.celery
        data = {
            "generated_at": overview.generated_at,
            "scope": overview.scope,
            "orders": {q.name: _age_count(q) for q in overview.queues if q.name in order_queues},
            "fulfilment_failures": _age_count(overview.queue(FULFILMENT_FAILURES)),
            "unprocessed_payment_events": _age_count(overview.queue(PAYMENT_EVENTS)),
            "queues": [q.__dict__ for q in overview.queues],
            "throughput": [p.__dict__ for p in overview.throughput],
            "celery": None if celery is None else {
                "queues": celery.queues, "workers_online": celery.workers_online,
                "tasks_failed_last_hour": celery.tasks_failed_last_hour,
            },
        }
        return Response(OpsQueuesOutputSerializer(data).data)
