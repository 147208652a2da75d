"""Shopper accounts through allauth headless, `app` client (API.md "Shoppers: accounts")."""

from urllib.parse import unquote

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


def _verify_key(email: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [email]]
    return unquote(message.body.split("/account/verify-email/")[1].split()[0])  # the link quotes it


def test_signup_then_verifying_the_email_gives_a_session_token_the_api_accepts(db, client):
    response = client.post(f"{AUTH}/signup", {"email": "New@Shopper.test", "password": PASSWORD_NEW}, format="json")

    # signup asks for the email first (the same answer a known email gets, below)
    assert response.status_code == 401, response.content
    assert {"id": "verify_email", "is_pending": True} in response.json()["data"]["flows"]
    pending = response.json()["meta"]["session_token"]
    assert User.objects.filter(email="new@shopper.test").exists()
    assert APIClient().get("/api/v1/orders/", headers={"X-Session-Token": pending}).status_code == 401

    verified = APIClient().post(f"{AUTH}/email/verify", {"key": _verify_key("new@shopper.test")}, format="json",
                                headers={"X-Session-Token": pending})

    assert verified.status_code == 200, verified.content
    token = verified.json()["meta"].get("session_token", pending)
    assert APIClient().get("/api/v1/orders/", headers={"X-Session-Token": token}).status_code == 200


def test_signup_answers_a_known_email_exactly_as_a_new_one(db, client):
    UserFactory(email="shopper@expo.test")

    known = client.post(f"{AUTH}/signup", {"email": "Shopper@Expo.test", "password": PASSWORD_NEW}, format="json")
    new = APIClient().post(f"{AUTH}/signup", {"email": "fresh@expo.test", "password": PASSWORD_NEW}, format="json")

    def shape(response):
        body = response.json()
        return response.status_code, body["data"], sorted(body["meta"]), len(body["meta"]["session_token"])

    assert shape(known) == shape(new)
    assert known.json()["meta"]["session_token"] != new.json()["meta"]["session_token"]
    # the owner hears of it; no second account, and the password sent does not sign anyone in
    [owner_mail] = [m for m in mail.outbox if m.to == ["shopper@expo.test"]]
    assert "already" in owner_mail.subject.lower()
    assert User.objects.filter(email__iexact="shopper@expo.test").count() == 1
    login = APIClient().post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD_NEW}, format="json")
    assert login.status_code == 400


def test_allauth_endpoints_accept_the_token_they_issued(db, client):
    # given a shopper signed in through the API
    UserFactory(email="shopper@expo.test")
    token = client.post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD},
                        format="json").json()["meta"]["session_token"]
    api = APIClient(headers={"X-Session-Token": token})

    # when they read their session and e-mail addresses
    session = api.get(f"{AUTH}/session")
    emails = api.get("/_allauth/app/v1/account/email")

    # then allauth knows them (it answered 401 to its own token before)
    assert session.status_code == 200, session.content
    assert session.json()["data"]["user"]["email"] == "shopper@expo.test"
    assert session.json()["meta"]["is_authenticated"] is True
    assert emails.status_code == 200, emails.content


def test_password_change_with_the_token_end_to_end(db, client):
    UserFactory(email="shopper@expo.test")
    token = client.post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD},
                        format="json").json()["meta"]["session_token"]

    changed = APIClient().post("/_allauth/app/v1/account/password/change",
                               {"current_password": PASSWORD, "new_password": PASSWORD_NEW}, format="json",
                               headers={"X-Session-Token": token})

    assert changed.status_code == 200, changed.content
    # allauth hands out a fresh session token; the old password is refused, the new one accepted
    fresh = changed.json()["meta"]["session_token"]
    assert APIClient().get("/api/v1/orders/", headers={"X-Session-Token": fresh}).status_code == 200
    old = APIClient().post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD}, format="json")
    new = APIClient().post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD_NEW}, format="json")
    assert old.status_code == 400
    assert new.status_code == 200


def test_password_change_refuses_a_wrong_current_password(db, client):
    UserFactory(email="shopper@expo.test")
    token = client.post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD},
                        format="json").json()["meta"]["session_token"]

    response = APIClient().post("/_allauth/app/v1/account/password/change",
                                {"current_password": "not-it-at-all", "new_password": PASSWORD_NEW}, format="json",
                                headers={"X-Session-Token": token})

    assert response.status_code == 400


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


@pytest.mark.parametrize("token", ["forged", "a" * 32, "A" * 32, "x" * 5000, "abc\tdef" * 4])
def test_a_forged_session_token_is_401_and_touches_no_cache_key(db, token):
    from django.core.cache import cache

    before = set(cache._cache.get_client().keys("*"))

    response = APIClient().get("/api/v1/orders/", headers={"X-Session-Token": token})

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] in {"authentication_failed", "not_authenticated"}
    written = {k.decode() for k in set(cache._cache.get_client().keys("*")) - before}
    assert not [k for k in written if "session" in k]


def test_a_session_token_is_read_from_the_cache_not_the_session_table(db, client, django_assert_num_queries):
    # given a shopper who logged in (the session is written through to Postgres and the cache)
    UserFactory(email="shopper@expo.test")
    login = client.post(f"{AUTH}/login", {"email": "shopper@expo.test", "password": PASSWORD}, format="json")
    api = APIClient(headers={"X-Session-Token": login.json()["meta"]["session_token"]})

    # when the token is used: the user and the (empty) order page are the only queries
    with django_assert_num_queries(2) as ctx:
        response = api.get("/api/v1/orders/")

    # then no query reads the session table
    assert response.status_code == 200
    assert not [q for q in ctx.captured_queries if "django_session" in q["sql"]]


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
