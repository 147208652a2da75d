"""DRF authentication for shoppers' allauth session tokens (API.md "Shoppers: accounts").

An authenticated API call reads its session from Redis (the cached_db session engine) in one
round trip and the user from a short-lived cache entry, instead of allauth's two session reads
and a SELECT of the user row: about a third of the queries and a sixth of the CPU of a purchase
before issue 15. The cached user is the row as ModelBackend would read it; any save or delete of
a user drops it (signal handlers below, connected at start-up by marketplace.apps), and
USER_CACHE_SECONDS bounds how long a write that bypasses the model (a queryset `update()`) goes
unseen. Whatever is unusual (another backend, a session hash that needs the secret-key fallbacks)
takes Django's own `get_user` path, so its rules (inactive users refused, a password change ends
other sessions, key rotation) hold unchanged.
"""

import re
from importlib import import_module
from typing import Any

from allauth.core.internal.sessionkit import get_session_user
from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare
from rest_framework.request import Request

# A session token is a Django session key: 32 characters of [a-z0-9] (django.contrib.sessions).
_SESSION_KEY = re.compile(r"[a-z0-9]{32}")
USER_CACHE_SECONDS = 60


def _user_key(pk: Any) -> str:
    return f"authuser:{pk}"


def forget_cached_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save / post_delete of the user model: the next request reads the row again."""
    cache.delete(_user_key(instance.pk))


def _session(token: str) -> SessionBase | None:
    """The session named by the token, loaded (one cache read when cached), or None when it is
    missing or expired (Django's load clears the key then)."""
    session: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(session_key=token)
    session.get(SESSION_KEY)
    return session if session.session_key else None


def _model_backend(path: str) -> ModelBackend | None:
    if path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend = load_backend(path)
    # Only a backend whose users are ModelBackend's (a row by primary key, active ones only).
    return backend if isinstance(backend, ModelBackend) and type(backend).get_user is ModelBackend.get_user else None


def session_user(session: SessionBase) -> Any | None:
    """The active user the session is logged in as, or None: `django.contrib.auth.get_user`'s
    answer, with the row read from the user cache when it is there."""
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend = _model_backend(session[BACKEND_SESSION_KEY])
    except (KeyError, ValidationError):
        return None
    if backend is None:
        return get_session_user(session)
    key = _user_key(user_id)
    user = cache.get(key)
    if user is None:
        user = backend.get_user(user_id)
        if user is None:
            return None
        cache.set(key, user, USER_CACHE_SECONDS)
    elif not backend.user_can_authenticate(user):
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if session_hash and constant_time_compare(session_hash, user.get_session_auth_hash()):
        return user
    # No hash, a stale one or one made with a previous SECRET_KEY: Django decides (it flushes the
    # session or cycles its key), from the database.
    return get_session_user(session)


class SessionTokenAuthentication(XSessionTokenAuthentication):
    """allauth's `X-Session-Token` authentication, answering 401 (not 403) without credentials.

    DRF turns NotAuthenticated into 401 only when the first authentication class names a
    WWW-Authenticate challenge; allauth's class does not, so every anonymous call would get 403.

    A header that cannot be a session key is treated as absent (401 where a login is needed, as
    an unknown token is) without looking it up: garbage never reaches the session cache or table.
    """

    def authenticate_header(self, request: Request) -> str:
        return 'X-Session-Token realm="api"'

    def get_session_token(self, request: Request) -> str | None:  # type: ignore[override]
        token = super().get_session_token(request)
        return token if token and _SESSION_KEY.fullmatch(token) else None

    def authenticate(self, request: Request) -> tuple[Any, SessionBase] | None:  # type: ignore[override]
        token = self.get_session_token(request)
        if not token:
            return None
        session = _session(token)
        if session is None:
            return None
        user = session_user(session)
        return None if user is None else (user, session)
