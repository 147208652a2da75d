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


@pytest.mark.django_db
@pytest.mark.parametrize(("remote", "headers", "status"), [
    ("127.0.0.1", {}, 200),                                           # loopback (the default network)
    ("10.2.0.9", {}, 404),                                            # elsewhere: as if it did not exist
    ("10.2.0.9", {"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, 404),         # a forged header changes nothing
    ("10.2.0.9", {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics"}, 200),  # the token opens it anywhere
    ("10.2.0.9", {"HTTP_AUTHORIZATION": "Bearer wrong"}, 404),
    ("127.0.0.1", {"HTTP_AUTHORIZATION": "Bearer wrong"}, 404),       # a wrong token is refused everywhere
    # an undeclared proxy on the same host: every visitor arrives from loopback, so only the token opens it
    ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}, 404),
    ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "198.51.100.1", "HTTP_AUTHORIZATION": "Bearer s3cret-metrics"}, 200),
])
def test_metrics_is_private(client, settings, remote, headers, status):
    settings.METRICS_TOKEN = "s3cret-metrics"

    response = client.get("/metrics", REMOTE_ADDR=remote, **headers)

    assert response.status_code == status
    if status == 404:
        assert b"django_http" not in response.content


@pytest.mark.django_db
def test_metrics_networks_and_trusted_proxy(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    settings.TRUSTED_PROXY_COUNT = 1

    inside = client.get("/metrics", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.7")
    outside = client.get("/metrics", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.7, 198.51.100.1")
    no_token_set = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer ")

    assert inside.status_code == 200
    assert outside.status_code == 404
    assert no_token_set.status_code == 404


@pytest.mark.django_db
def test_health_stays_public(client):
    assert client.get("/health/", REMOTE_ADDR="10.2.0.9").status_code in (200, 503)
