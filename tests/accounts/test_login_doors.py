"""Every door to sign in is limited, and by the same client address (issue 12, "Hardening").

The admin login (also /ops/'s and /booth/'s) locks an email out per client address (django-axes);
allauth's API keeps its own limits, answering 429 with Retry-After; one TRUSTED_PROXY_COUNT
decides the client address for DRF, allauth and axes, so a forged X-Forwarded-For moves nobody.
"""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from marketplace.api.throttling import AnonRateThrottle, UserRateThrottle
from tests.factories import PASSWORD, OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db

AUTH = "/_allauth/app/v1/auth"
LOGIN = "/admin/login/"
WRONG = "not-the-password"


def _admin_login(client: Client, email: str, password: str, ip: str = "10.9.0.1", **extra: str):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip, **extra)


def _api_login(email: str, password: str, ip: str = "10.9.0.1", **headers: str):
    return APIClient().post(f"{AUTH}/login", {"email": email, "password": password}, format="json",
                            REMOTE_ADDR=ip, headers=headers)


@pytest.fixture
def operator():
    return OperatorFactory(email="operator@expo.test")


# --- the admin login (django-axes) -------------------------------------------------------------


def test_admin_login_locks_the_email_from_that_address_after_five_failures(operator):
    client = Client()
    statuses = [_admin_login(client, operator.email, WRONG).status_code for _ in range(5)]

    # the right password is refused now, with the lockout page and when to come back
    locked = _admin_login(client, operator.email, PASSWORD)

    assert statuses[:4] == [200] * 4  # the form again, with its error
    assert statuses[4] == 429
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    html = locked.content.decode()
    assert "Sign-in locked" in html and "15 minutes" in html and "Expo Marketplace" in html
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_email_and_address_and_case_blind(operator):
    for i in range(5):
        _admin_login(Client(), operator.email.upper() if i % 2 else operator.email, WRONG)

    # same email from another address signs in; the locked pair stays locked
    elsewhere = _admin_login(Client(), operator.email, PASSWORD, ip="10.9.0.2")
    again = _admin_login(Client(), operator.email, PASSWORD)

    assert elsewhere.status_code == 302
    assert again.status_code == 429


def test_the_lockout_page_speaks_chinese(operator):
    for _ in range(5):
        _admin_login(Client(), operator.email, WRONG)

    response = _admin_login(Client(), operator.email, PASSWORD, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 429
    assert "登录已锁定" in response.content.decode()
    translation.activate("en")


def test_an_operator_unlocks_by_deleting_the_attempt(operator):
    staff = UserFactory(email="staff@alpha.test", is_staff=True)
    for _ in range(5):
        _admin_login(Client(), staff.email, WRONG)
    attempt = AccessAttempt.objects.get(username=staff.email)
    ops = Client()
    ops.force_login(operator)

    listed = ops.get("/admin/axes/accessattempt/?locked_out=yes")
    deleted = ops.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert listed.status_code == 200 and staff.email in listed.content.decode()
    assert deleted.status_code == 302
    assert _admin_login(Client(), staff.email, PASSWORD).status_code == 302


def test_a_success_clears_the_count(operator):
    for _ in range(4):
        _admin_login(Client(), operator.email, WRONG)
    assert _admin_login(Client(), operator.email, PASSWORD).status_code == 302

    statuses = [_admin_login(Client(), operator.email, WRONG).status_code for _ in range(4)]

    assert statuses == [200] * 4


def test_the_ops_console_signs_in_through_the_guarded_login(operator):
    response = Client().get("/ops/")

    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


# --- allauth's API logins: allauth's limits, not axes' -----------------------------------------


def test_api_logins_are_left_to_allauth_and_still_limited():
    UserFactory(email="shopper@expo.test")

    failures = [_api_login("shopper@expo.test", WRONG).status_code for _ in range(4)]
    ok = _api_login("shopper@expo.test", PASSWORD)
    # allauth's login_failed limit (5 per email in 5 minutes) answers the sixth failure itself
    refused = [_api_login("shopper@expo.test", WRONG) for _ in range(6)][-1]

    assert failures == [400] * 4
    assert ok.status_code == 200 and ok.json()["meta"]["session_token"]
    assert not AccessAttempt.objects.exists()
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "too_many_login_attempts"


def test_allauth_429_carries_retry_after(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    UserFactory(email="shopper@expo.test")

    statuses = [_api_login("shopper@expo.test", PASSWORD).status_code for _ in range(2)]
    refused = _api_login("shopper@expo.test", PASSWORD)

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert 50 <= int(refused["Retry-After"]) <= 60


def test_password_reset_429_carries_retry_after_per_email(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "20/m/ip,1/5m/key"}
    UserFactory(email="shopper@expo.test")
    client = APIClient()

    first = client.post(f"{AUTH}/password/request", {"email": "shopper@expo.test"}, format="json")
    refused = client.post(f"{AUTH}/password/request", {"email": "shopper@expo.test"}, format="json")

    assert first.status_code == 200
    assert refused.status_code == 429
    assert 290 <= int(refused["Retry-After"]) <= 300


# --- one client address: forged X-Forwarded-For changes nothing by default ---------------------


@pytest.fixture
def low_drf_rates(monkeypatch):
    rates = {"anon": "2/min", "user": "2/min"}
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", rates)


def test_forged_forwarded_for_does_not_reset_drf_throttle(low_drf_rates):
    client = APIClient()
    for i in range(2):
        client.get("/api/v1/products/", REMOTE_ADDR="10.9.1.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")

    response = client.get("/api/v1/products/", REMOTE_ADDR="10.9.1.1", HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert response.status_code == 429


def test_forged_forwarded_for_does_not_reset_allauth_limit(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    UserFactory(email="shopper@expo.test")
    for i in range(2):
        _api_login("shopper@expo.test", PASSWORD, **{"X-Forwarded-For": f"203.0.113.{i}"})

    response = _api_login("shopper@expo.test", PASSWORD, **{"X-Forwarded-For": "203.0.113.99"})

    assert response.status_code == 429


def test_forged_forwarded_for_does_not_unlock_the_admin_login(operator):
    for i in range(5):
        _admin_login(Client(), operator.email, WRONG, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")

    response = _admin_login(Client(), operator.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.9.0.1"}


def test_with_one_trusted_proxy_each_forwarded_client_counts_apart(settings, operator, low_drf_rates):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    UserFactory(email="shopper@expo.test")
    for _ in range(5):
        _admin_login(Client(), operator.email, WRONG, HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1")
    for _ in range(2):
        _api_login("shopper@expo.test", PASSWORD, **{"X-Forwarded-For": "203.0.113.1"})
        APIClient().get("/api/v1/products/", HTTP_X_FORWARDED_FOR="203.0.113.1")

    # the proxy's entry (the last one) is the client: another client behind it is not limited
    admin_other = _admin_login(Client(), operator.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.2")
    api_other = _api_login("shopper@expo.test", PASSWORD, **{"X-Forwarded-For": "203.0.113.2"})
    drf_other = APIClient().get("/api/v1/products/", HTTP_X_FORWARDED_FOR="203.0.113.2")
    drf_same = APIClient().get("/api/v1/products/", HTTP_X_FORWARDED_FOR="203.0.113.1")

    assert admin_other.status_code == 302
    assert api_other.status_code == 200
    assert drf_other.status_code == 200
    assert drf_same.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.1"}
