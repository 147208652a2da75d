"""The drop's buyers: one shopper account (X-Session-Token) each, many at once, through HAProxy.

Each buyer behaves as a careful shopping app does, and every attempt it makes is recorded (what
it sent, when, what came back and which web host answered, from HAProxy's X-Served-By):

1. `POST /api/v1/orders/` with an `Idempotency-Key` of its own. A dropped connection or a 502/503/
   504 is retried with the same key and body (backoff), so a request the dead host had committed
   comes back as its stored response, not a second order. `409 idempotency_key_in_use` means the
   first attempt is still "in flight" as far as the server knows (its host died mid-request; the
   record is taken over only after 5 minutes): the app then looks in the shopper's own order list
   for an order of this product and carries on with it, and only if there is none asks again
   with a new key (the shopper pressing "Buy" again).
2. `GET /api/v1/orders/{id}/` right away (read-your-writes: the order it was just given), asked
   again if the connection broke.
3. `POST /api/v1/orders/{id}/payment/simulate {"outcome": "succeeded"}` (the simulated provider),
   retried on a dropped connection or 5xx (simulating the same outcome twice is one event).

Threads with keep-alive `http.client` connections; run it from a thread inside the client host's
namespace (Host.call) so that every socket is opened there.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

RETRY_STATUSES = (502, 503, 504)
MAX_ATTEMPTS = 8
TIMEOUT = 30.0


@dataclass
class Attempt:
    buyer: int
    step: str  # order | order_retry_new_key | order_list | order_get | pay
    attempt: int
    started: float  # time.time()
    ended: float
    status: int | None  # None: no HTTP answer (connection refused/reset/timeout)
    error: str | None
    served_by: str | None
    code: str | None = None  # the error code of a 4xx/5xx JSON body
    replayed: bool = False


@dataclass
class BuyerResult:
    buyer: int
    user_id: int
    outcome: str = "unknown"  # bought | sold_out | gave_up | unexpected
    order_id: str | None = None
    adopted: bool = False  # found in the own order list after idempotency_key_in_use
    paid: bool = False
    read_back: int | None = None  # status of the GET right after the order was given
    read_back_ok: bool = False
    given_at: float | None = None  # when the buyer learned its order (201, or found in its list)
    detail: str = ""


@dataclass
class DropRun:
    started: float
    finished: float
    results: list[BuyerResult]
    attempts: list[Attempt]
    killed_at: float | None = None
    kill_done_at: float | None = None
    kill_info: dict[str, Any] = field(default_factory=dict)

    def statuses(self, step: str | None = None) -> Counter[str]:
        return Counter(str(a.status) if a.status is not None else f"no answer ({a.error})"
                       for a in self.attempts if step is None or a.step == step)


class Client:
    """A keep-alive connection per thread to one HTTP endpoint (host:port)."""

    def __init__(self, host: str, port: int, *, extra_headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self.extra_headers = extra_headers or {}
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            self._local.conn = conn
        return conn

    def drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(self, method: str, path: str, *, token: str | None = None, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """One request; raises OSError / http.client.HTTPException when no answer came back."""
        head = {"Accept": "application/json", **self.extra_headers, **(headers or {})}
        if token:
            head["X-Session-Token"] = token
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        conn = self._conn()
        try:
            conn.request(method, path, body=payload, headers=head)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.drop_connection()
            raise
        if resp.getheader("Connection", "").lower() == "close":
            self.drop_connection()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw[:200].decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def error_code(data: Any) -> str | None:
    if isinstance(data, dict) and data.get("errors"):
        first = data["errors"][0]
        return first.get("code") if isinstance(first, dict) else None
    return None


class Drop:
    """3,000 buyers for one product; `kill` is called (in its own thread) once `kill_after` orders
    were handed out, and the run keeps going through it."""

    def __init__(self, client: Client, product_id: int, buyers: list[tuple[int, str]], *, run_tag: str,
                 concurrency: int = 32, kill_after: int | None = None, kill: Callable[[], dict[str, Any]] | None = None) -> None:
        self.client = client
        self.product_id = product_id
        self.buyers = buyers
        self.run_tag = run_tag
        self.concurrency = concurrency
        self.kill_after = kill_after
        self.kill = kill
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._given = 0
        self._kill_thread: threading.Thread | None = None
        self.killed_at: float | None = None
        self.kill_done_at: float | None = None
        self.kill_info: dict[str, Any] = {}

    # --- one HTTP exchange, recorded ----------------------------------------------------------------

    def _send(self, buyer: int, step: str, attempt: int, method: str, path: str, token: str,
              body: Any = None, headers: dict[str, str] | None = None) -> tuple[int | None, Any, dict[str, str]]:
        started = time.time()
        try:
            status, head, data = self.client.request(method, path, token=token, body=body, headers=headers)
        except (OSError, http.client.HTTPException) as exc:
            rec = Attempt(buyer, step, attempt, started, time.time(), None, type(exc).__name__, None)
            with self._lock:
                self.attempts.append(rec)
            return None, None, {}
        rec = Attempt(buyer, step, attempt, started, time.time(), status, None, head.get("x-served-by"),
                      error_code(data) if status >= 400 else None, head.get("idempotent-replayed") == "true")
        with self._lock:
            self.attempts.append(rec)
        return status, data, head

    def _with_retries(self, buyer: int, step: str, method: str, path: str, token: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> tuple[int | None, Any]:
        """Retry what got no answer or a 502/503/504 (the same request, the same key)."""
        status: int | None = None
        data: Any = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            status, data, _ = self._send(buyer, step, attempt, method, path, token, body, headers)
            if status is not None and status not in RETRY_STATUSES:
                return status, data
            if attempt < MAX_ATTEMPTS:
                time.sleep(min(0.1 * 2 ** attempt, 2.0))
        return status, data

    # --- one buyer --------------------------------------------------------------------------------

    def _order_given(self) -> None:
        with self._lock:
            self._given += 1
            fire = self.kill is not None and self.kill_after is not None and self._given == self.kill_after
        if fire:
            self._kill_thread = threading.Thread(target=self._do_kill, name="kill", daemon=True)
            self._kill_thread.start()

    def _do_kill(self) -> None:
        assert self.kill is not None
        self.killed_at = time.time()
        try:
            self.kill_info = self.kill()
        except Exception as exc:  # the run goes on; the test reports it
            self.kill_info = {"error": f"{type(exc).__name__}: {exc}"}
        self.killed_at = self.kill_info.get("killed_at", self.killed_at)
        self.kill_done_at = time.time()

    def _find_own_order(self, buyer: int, token: str) -> str | None:
        status, data = self._with_retries(buyer, "order_list", "GET", "/api/v1/orders/?page_size=20", token)
        if status != 200 or not isinstance(data, dict):
            return None
        for order in data.get("results", []):
            if order.get("status") in ("pending_payment", "paid", "fulfilled") and any(
                    line.get("product") == self.product_id for line in order.get("lines", [])):
                return order["id"]
        return None

    def buy(self, index: int) -> BuyerResult:
        user_id, token = self.buyers[index]
        result = BuyerResult(buyer=index, user_id=user_id)
        body = {"lines": [{"product": self.product_id, "quantity": 1}]}
        key = f"{self.run_tag}-{user_id}-{uuid.uuid4().hex[:8]}"
        status, data = self._with_retries(index, "order", "POST", "/api/v1/orders/", token, body, {"Idempotency-Key": key})
        code = error_code(data)
        if status == 409 and code == "idempotency_key_in_use":
            # The first attempt died with its host; did it leave an order behind?
            time.sleep(0.5)
            order_id = self._find_own_order(index, token)
            if order_id:
                result.adopted = True
                status, data, code = 201, {"id": order_id}, None
            else:
                status, data = self._with_retries(index, "order_retry_new_key", "POST", "/api/v1/orders/", token, body,
                                                  {"Idempotency-Key": f"{key}-again"})
                code = error_code(data)
        if status == 409 and code == "sold_out":
            result.outcome = "sold_out"
            return result
        if status != 201 or not isinstance(data, dict) or "id" not in data:
            result.outcome = "gave_up" if status in (None, *RETRY_STATUSES, 409) else "unexpected"
            result.detail = f"order: {status} {code or data!r:.200}"
            return result
        result.order_id = data["id"]
        result.given_at = time.time()
        self._order_given()
        # Read-your-writes: the order just given, read back at once (any web host, any database;
        # a GET whose connection broke is simply asked again).
        got, got_data = self._with_retries(index, "order_get", "GET", f"/api/v1/orders/{result.order_id}/", token)
        result.read_back = got
        result.read_back_ok = got == 200 and isinstance(got_data, dict) and got_data.get("id") == result.order_id
        status, data = self._with_retries(index, "pay", "POST", f"/api/v1/orders/{result.order_id}/payment/simulate",
                                          token, {"outcome": "succeeded"})
        result.paid = status == 202
        result.outcome = "bought" if result.paid else "unexpected"
        if not result.paid:
            result.detail = f"pay: {status} {error_code(data) or data!r:.200}"
        return result

    def run(self) -> DropRun:
        started = time.time()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="buyer") as pool:
            results = list(pool.map(self.buy, range(len(self.buyers))))
        finished = time.time()
        if self._kill_thread is not None:
            self._kill_thread.join(timeout=60)
        return DropRun(started=started, finished=finished, results=results, attempts=list(self.attempts),
                       killed_at=self.killed_at, kill_done_at=self.kill_done_at, kill_info=self.kill_info)
