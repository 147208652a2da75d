"""A fake Stripe at the SDK's HTTP-client seam: records every request, answers a few endpoints,
and replays the first response for a repeated Idempotency-Key (as Stripe does)."""

import itertools
import json
from typing import Any
from urllib.parse import parse_qsl, urlparse

import stripe


class FakeStripeHTTPClient(stripe.HTTPClient):
    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.replayed: dict[str, tuple[str, int, dict[str, str]]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.created = 0  # objects really created (not replays)
        self.fail_next: int | None = None  # HTTP status to answer once

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None) -> Any:
        params = dict(parse_qsl(post_data or "", keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key")
        self.requests.append({"method": method, "path": urlparse(url).path, "params": params, "key": key})
        if self.fail_next:
            status, self.fail_next = self.fail_next, None
            return json.dumps({"error": {"message": "boom", "type": "api_error"}}), status, {}
        if method == "post" and key in self.replayed:
            return self.replayed[key]
        answer = self._answer(method, urlparse(url).path, params)
        response = (json.dumps(answer), 200, {"request-id": "req_fake"})
        if method == "post" and key:
            self.replayed[key] = response
        return response

    def close(self) -> None:
        pass

    def _new(self, prefix: str, **fields: Any) -> dict[str, Any]:
        self.created += 1
        obj = {"id": f"{prefix}_{next(self.ids)}", **fields}
        self.objects[obj["id"]] = obj
        return obj

    def _answer(self, method: str, path: str, p: dict[str, str]) -> dict[str, Any]:
        parts = path.strip("/").split("/")[1:]
        if method == "post" and parts == ["payment_intents"]:
            obj = self._new("pi", object="payment_intent", amount=int(p["amount"]), currency=p["currency"],
                            status="requires_payment_method", latest_charge=None, last_payment_error=None)
            obj["client_secret"] = obj["id"] + "_secret_x"
            return obj
        if method == "post" and parts == ["refunds"]:
            return self._new("re", object="refund", amount=int(p["amount"]), status="succeeded",
                             payment_intent=p["payment_intent"])
        if method == "post" and parts == ["accounts"]:
            return self._new("acct", object="account", type=p["type"], payouts_enabled=False, details_submitted=False)
        if method == "post" and parts == ["account_links"]:
            self.created += 1
            return {"object": "account_link", "url": f"https://connect.example.test/setup/{p['account']}/{self.created}"}
        if method == "post" and parts == ["transfers"]:
            return self._new("tr", object="transfer", amount=int(p["amount"]), destination=p["destination"],
                             transfer_group=p.get("transfer_group"), source_transaction=p.get("source_transaction"))
        if method == "post" and len(parts) == 3 and parts[0] == "transfers" and parts[2] == "reversals":
            return self._new("trr", object="transfer_reversal", amount=int(p["amount"]), transfer=parts[1])
        if method == "get" and len(parts) == 2 and parts[1] in self.objects:
            return self.objects[parts[1]]
        raise AssertionError(f"fake stripe has no {method} {path}")
