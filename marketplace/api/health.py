"""GET /health/: database, Redis and Celery workers; 200 when all are up, 503 otherwise (API.md).

Built on django-health-check's checks; the view only fixes the contract's shape: always JSON,
`{"status": "ok" | "unavailable", "checks": {"database": "ok" | "<error>", ...}}`.
"""

import asyncio
import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis


class HealthView(HealthCheckView):
    def get_checks(self) -> Any:
        yield "database", Database()
        yield "redis", Redis(client_factory=lambda: AsyncRedis.from_url(settings.REDIS_URL))
        # One worker answering is enough to know tasks will run; it must also consume our queues.
        yield "celery", Ping(timeout=datetime.timedelta(seconds=1), limit=1)

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        named = list(self.get_checks())
        results = await asyncio.gather(*(check.get_result(None) for _, check in named))
        checks = {name: "ok" if not result.error else str(result.error) for (name, _), result in zip(named, results, strict=True)}
        healthy = all(value == "ok" for value in checks.values())
        return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)


health_view = HealthView.as_view()
