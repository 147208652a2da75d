"""The API's session-token authentication reads the user from a short-lived cache (issue 15), and
still refuses at once what Django's `get_user` refuses: an inactive user, a changed password."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from marketplace.api.authentication import USER_CACHE_SECONDS, _user_key
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

AUTH = "/_allauth/app/v1/auth"


def logged_in(email: str = "cached@expo.test") -> tuple[object, APIClient]:
    user = UserFactory(email=email)
    login = APIClient().post(f"{AUTH}/login", {"email": email, "password": PASSWORD}, format="json")
    return user, APIClient(headers={"X-Session-Token": login.json()["meta"]["session_token"]})


def test_a_second_call_reads_no_user_row(django_assert_num_queries):
    user, api = logged_in()
    assert api.get("/api/v1/orders/").status_code == 200  # reads the row once, caches it

    with django_assert_num_queries(1) as ctx:  # the order page only
        response = api.get("/api/v1/orders/")

    assert response.status_code == 200
    assert not [q for q in ctx.captured_queries if "accounts_user" in q["sql"]]
    ttl = cache._cache.get_client().ttl(cache.make_and_validate_key(_user_key(user.pk)))  # type: ignore[attr-defined]
    assert 0 < ttl <= USER_CACHE_SECONDS


def test_a_deactivated_user_is_refused_on_the_next_call():
    user, api = logged_in()
    assert api.get("/api/v1/orders/").status_code == 200

    user.is_active = False
    user.save()

    assert api.get("/api/v1/orders/").status_code == 401


def test_a_password_change_ends_the_other_sessions():
    user, api = logged_in()
    assert api.get("/api/v1/orders/").status_code == 200

    user.set_password("another-long-passphrase-77")
    user.save()

    assert api.get("/api/v1/orders/").status_code == 401


def test_a_deleted_user_is_forgotten():
    user, api = logged_in()
    assert api.get("/api/v1/orders/").status_code == 200

    user.delete()

    assert cache.get(_user_key(user.pk)) is None
    assert api.get("/api/v1/orders/").status_code == 401
