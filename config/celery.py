"""The Celery app. Queues, routes and delivery guarantees live in config/settings/integrations/celery.py."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("marketplace", task_cls="marketplace.tasks:BaseTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(*, task: object = None, **_: object) -> None:
    """Before and after each task, what Django does around each request: close a database
    connection that is broken or older than CONN_MAX_AGE (DB_CONN_MAX_AGE), keep the others. With
    CELERY_DB_REUSE_MAX set, Celery's own fixup no longer closes them all every time (a new
    connection per task cost a Postgres backend and about 1.5 ms of worker CPU each)."""
    if not getattr(getattr(task, "request", None), "is_eager", False):  # an eager task runs in its caller's transaction
        close_old_connections()
