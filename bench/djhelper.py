"""The harness's in-process Django steps, run as `python -m bench.djhelper CMD '<json>'` with the bench
environment (bench.stack.django_env). Prints one JSON document on stdout.

- mint:      allauth app sessions (X-Session-Token) for users the harness bulk-inserted; signing up
             thousands of buyers over HTTP would spend minutes in argon2, which is not what S2 measures.
- capture:   one real request through Django's test client with the query log on: the SQL the
             endpoint issues (source of the pgbench scripts and the query counts).
- password:  a password hash for the bulk-inserted users.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any
from unittest import mock


def _setup() -> None:
    import django

    django.setup()


def mint(args: dict[str, Any]) -> Any:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    users = get_user_model().objects.filter(id__in=args["user_ids"]).only("id", "password")
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    rows, tokens = [], {}
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash()}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        tokens[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=1000)
    return {str(k): v for k, v in tokens.items()}


def password(args: dict[str, Any]) -> Any:
    from django.contrib.auth.hashers import make_password

    return make_password(args["password"])


def capture(args: dict[str, Any]) -> Any:
    """One request, in process, with every query recorded. `randint` pins the random start serial of
    the edition claim so the harness can find it in the SQL and turn it into a pgbench variable."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in args.get("headers", {}).items()})
    patcher = mock.patch("apps.catalog.services.inventory.random.randint", return_value=args["randint"]) if args.get("randint") else None
    if patcher:
        patcher.start()
    try:
        if args.get("warm_path"):  # steady state: the session is in the cache after a first request
            client.get(args["warm_path"])
        with CaptureQueriesContext(connection) as ctx:
            if args["method"] == "GET":
                response = client.get(args["path"])
            else:
                response = client.generic(args["method"], args["path"], json.dumps(args.get("body")),
                                          content_type="application/json")
    finally:
        if patcher:
            patcher.stop()
    return {"status": response.status_code, "queries": [q["sql"] for q in ctx.captured_queries],
            "body": response.json() if response.get("Content-Type", "").startswith("application/json") else None}


def enqueue(args: dict[str, Any]) -> Any:
    """Send one task per order id (the fulfilment queue), as fulfilment_schedule does after commit."""
    from config.celery import app

    with app.producer_or_acquire() as producer:
        for order_id in args["order_ids"]:
            app.send_task(args["task"], kwargs={"order_id": order_id}, queue="fulfilment", producer=producer)
    return len(args["order_ids"])


def consumer(args: dict[str, Any]) -> Any:
    """Pause or resume consumption of the fulfilment queue on every worker."""
    from config.celery import app

    if args["action"] == "cancel":
        return app.control.cancel_consumer("fulfilment", reply=True, timeout=5)
    return app.control.add_consumer("fulfilment", reply=True, timeout=5)


def main() -> None:
    _setup()
    raw = sys.argv[2] if len(sys.argv) > 2 else "{}"
    command, payload = sys.argv[1], json.loads(sys.stdin.read() if raw == "-" else raw)
    result = {"mint": mint, "capture": capture, "password": password, "enqueue": enqueue,
              "consumer": consumer}[command](payload)
    sys.stdout.write("\n@@BENCH@@" + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
