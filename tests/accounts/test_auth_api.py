"""Shopper accounts through allauth headless, `app` client (API.md "Shoppers: accounts")."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.factories import PASSWORD, UserFactory

AUTH = "/_allauth/app/v1/auth"
PASSWORD_NEW = "a-long-and-unusual-passphrase-42"


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def test_signup_returns_a_session_token_the_api_accepts(db, client):
    response = client.post(f"{AUTH}/signup", {"email": "New@Shopper.test", "password": PASSWORD_NEW}, format="json")

    assert response.status_code == 200, response.content
    token = response.json()["meta"]["session_token"]
    assert User.objects.filter(email="new@shopper.test").exists()
    orders = APIClient().get("/api/v1/orders/", headers={"X-Session-Token": token})
    assert orders.status_code == 200


def test_login_with_email_returns_a_session_token(db, client):
    UserFactory(email="shopper@expo.test")

    response = client.post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    token = response.json()["meta"]["session_token"]
    assert APIClient().get("/api/v1/orders/", headers={"X-Session-Token": token}).status_code == 200


def test_wrong_password_is_refused(db, client):
    UserFactory(email="shopper@expo.test")

    response = client.post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": "nope-nope-nope"}, format="json")

    assert response.status_code == 400
    assert "session_token" not in response.json().get("meta", {})


def test_a_forged_session_token_is_401(db):
    response = APIClient().get("/api/v1/orders/", headers={"X-Session-Token": "forged"})

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] in {"authentication_failed", "not_authenticated"}


def test_password_reset_request_sends_an_email_with_a_front_end_link(db, client):
    UserFactory(email="shopper@expo.test")

    response = client.post(f"{AUTH}/password/request", {"email": "shopper@expo.test"}, format="json")

    assert response.status_code == 200, response.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["shopper@expo.test"]
    assert "/account/password/reset/key/" in mail.outbox[0].body


def test_password_reset_with_the_key_changes_the_password(db, client):
    UserFactory(email="shopper@expo.test")
    client.post(f"{AUTH}/password/request", {"email": "shopper@expo.test"}, format="json")
    key = mail.outbox[0].body.split("/account/password/reset/key/")[1].split()[0]

    response = client.post(f"{AUTH}/password/reset", {"key": key, "password": PASSWORD_NEW}, format="json")

    assert response.status_code in (200, 401), response.content  # 401: reset done, not logged in
    login = APIClient().post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD_NEW}, format="json")
    assert login.status_code == 200
