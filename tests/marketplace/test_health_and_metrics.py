"""/health/ and /metrics. A worker answering is covered end to end in tests/integration/test_make_run.py."""

import pytest


@pytest.mark.django_db
def test_health_reports_each_dependency_and_503_without_a_worker(client, monkeypatch):
    # Given no Celery worker is consuming the queues (none runs in the unit suite)
    # When /health/ is asked
    response = client.get("/health/")
    # Then database and redis are ok, celery is not, and the answer is 503 in JSON
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["celery"] != "ok"


@pytest.mark.django_db
def test_health_is_200_when_every_check_passes(client, monkeypatch):
    from health_check.contrib.celery import Ping

    monkeypatch.setattr(Ping, "run", lambda self: None)
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "celery": "ok"}}


@pytest.mark.django_db
def test_metrics_serves_prometheus_text(client):
    client.get("/api/v1/products/")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert "django_db_execute_total" in text
