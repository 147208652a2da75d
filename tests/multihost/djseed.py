"""Seeding through Django, in one long-lived process on the client host (`Cluster.seeder`).

    python -m tests.multihost.djseed      # then one JSON command per line on stdin

Each command line gets one answer line, `@@MH@@<json>` on stdout. Rows are made through the
project's factories and services (tests/factories.py: a collectible's editions come from
`product_save`, as in the admin), so the seed follows the schema as it changes; bulk SQL (as
bench/seed.py does) breaks at every new NOT NULL column. It runs with the hosts' settings but
without DATABASE_REPLICA_URLS: everything is written to, and read back from, the primary.

Commands: {"cmd": "exhibitor", "slug"} -> id; {"cmd": "shoppers", "count", "tag"} -> [[user id,
X-Session-Token], ...]; {"cmd": "collectible", "exhibitor", "slug", "editions"} -> id.
"""

from __future__ import annotations

import json
import sys
import traceback
from datetime import timedelta
from typing import Any

MARK = "@@MH@@"


def exhibitor(slug: str) -> int:
    from tests.factories import ExhibitorFactory

    return ExhibitorFactory(slug=slug, name=f"Multihost {slug}").pk


def shoppers(count: int, tag: str) -> list[list[Any]]:
    """`count` shoppers (unusable passwords) and an allauth app session each, minted directly as
    bench/djhelper.py does: signing thousands up over HTTP would spend minutes in argon2."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from apps.accounts.models import User

    users = User.objects.bulk_create(
        [User(email=f"mh-{tag}-{i}@buyers.test", password=make_password(None)) for i in range(count)], batch_size=1000)
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    rows, pairs = [], []
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash()}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        pairs.append([user.pk, key])
    Session.objects.bulk_create(rows, batch_size=1000)
    return pairs


def collectible(exhibitor: int, slug: str, editions: int) -> int:
    """A collectible on sale now with `editions` numbered editions (no per-shopper limit)."""
    from apps.exhibitors.models import Exhibitor
    from tests.factories import ProductFactory

    return ProductFactory(exhibitor=Exhibitor.objects.get(pk=exhibitor), slug=slug, title=slug, collectible=True,
                          edition_size=editions).pk


COMMANDS = {"exhibitor": exhibitor, "shoppers": shoppers, "collectible": collectible}


def main() -> None:
    import django

    django.setup()
    print(MARK + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        args = json.loads(line)
        try:
            answer = {"ok": COMMANDS[args.pop("cmd")](**args)}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print(MARK + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
