"""One log line per refused request: django-structlog's `request_finished` carries a 4xx (status,
request_id, user); Django's own `django.request` warning for it is not emitted as well. A server
error is still logged by Django with its traceback."""

import logging

import pytest
from django.test import Client


@pytest.mark.django_db
def test_a_4xx_is_logged_once_by_django_structlog_not_again_by_django_request(caplog):
    with caplog.at_level(logging.DEBUG):
        response = Client().post("/api/v1/orders/", data={}, content_type="application/json")
    assert response.status_code in (401, 403)
    assert not [r for r in caplog.records if r.name == "django.request"]
    finished = [r for r in caplog.records if r.name.startswith("django_structlog") and "request_finished" in r.getMessage()]
    assert len(finished) == 1


def test_django_request_still_logs_server_errors():
    logger = logging.getLogger("django.request")
    assert logger.isEnabledFor(logging.ERROR)
    assert not logger.isEnabledFor(logging.WARNING)
