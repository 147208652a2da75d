"""A small asyncio HTTP/1.1 load client (keep-alive, raw streams): cheap on CPU, which matters when the
client shares 2 cores with the server it measures.

Closed loop (`rate=None`): `concurrency` connections send back to back. Open loop (`rate=r`): request
i is due at start + i/r and its latency counts from that due time, so a stalled server is not
hidden by the client waiting (no coordinated omission). Every run is bounded by a request count
and a deadline, and only ever connects to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"  # the only target, by construction


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    index: int
    status: int
    latency: float  # seconds
    done_at: float  # monotonic
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class LoadResult:
    responses: list[Response]
    started: float
    finished: float
    concurrency: int
    rate: float | None
    errors: int = 0  # transport errors (connection reset, timeout)

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)

    @property
    def rps(self) -> float:
        return len(self.responses) / self.seconds

    def statuses(self) -> Counter[int]:
        return Counter(r.status for r in self.responses)

    def latencies(self, status: Callable[[int], bool] | None = None) -> list[float]:
        return sorted(r.latency for r in self.responses if status is None or status(r.status))

    def summary(self) -> dict[str, Any]:
        lat = self.latencies()
        return {
            "requests": len(self.responses), "seconds": round(self.seconds, 3), "rps": round(self.rps, 2),
            "concurrency": self.concurrency, "offered_rate": self.rate, "transport_errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses().items())},
            "p50_ms": ms(percentile(lat, 50)), "p90_ms": ms(percentile(lat, 90)), "p99_ms": ms(percentile(lat, 99)),
            "mean_ms": ms(statistics.fmean(lat)) if lat else None,
        }


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


class _Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, req: Request) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a keep-alive socket the server closed meanwhile is reopened once
            if self.writer is None:
                await self._open()
            assert self.reader is not None
            assert self.writer is not None
            head = [f"{req.method} {req.path} HTTP/1.1", f"Host: {HOST}:{self.port}", f"Content-Length: {len(req.body)}"]
            head += [f"{k}: {v}" for k, v in req.headers.items()]
            try:
                self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
            except (ConnectionError, OSError):
                self.close()
                if attempt == 2:
                    raise
                continue
            status = int(status_line.split()[1])
            length, chunked, close = 0, False, False
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
                elif name == "connection" and value.lower() == "close":
                    close = True
            if chunked:
                body = b""
                while True:
                    size = int((await self.reader.readline()).strip().split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readline()
                        break
                    body += await self.reader.readexactly(size)
                    await self.reader.readline()
            else:
                body = await self.reader.readexactly(length) if length else b""
            if close:
                self.close()
            return status, body
        raise ConnectionResetError("unreachable")


async def _run(make: Callable[[int], Request], *, port: int, total: int, concurrency: int, rate: float | None,
               max_seconds: float, keep_body: Callable[[int], bool]) -> LoadResult:
    responses: list[Response] = []
    errors = 0
    next_index = 0
    started = time.monotonic()
    deadline = started + max_seconds

    async def worker() -> None:
        nonlocal next_index, errors
        conn = _Connection(port)
        try:
            while True:
                if next_index >= total or time.monotonic() >= deadline:
                    return
                index = next_index
                next_index += 1
                due = started + index / rate if rate else time.monotonic()
                if rate:
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if time.monotonic() >= deadline:
                        return
                req = make(index)
                t0 = due if rate else time.monotonic()
                try:
                    status, body = await asyncio.wait_for(conn.send(req), timeout=30)
                except (TimeoutError, ConnectionError, OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                    errors += 1
                    conn.close()
                    continue
                now = time.monotonic()
                responses.append(Response(index, status, now - t0, now, body if keep_body(status) else b""))
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(responses, started, time.monotonic(), concurrency, rate, errors)


def run_load(make: Callable[[int], Request], *, port: int, total: int, concurrency: int, rate: float | None = None,
             max_seconds: float = 30.0, keep_body: Callable[[int], bool] = lambda status: False) -> LoadResult:
    """Send up to `total` requests built by `make(i)`, stopping at `max_seconds` whatever happens."""
    return asyncio.run(_run(make, port=port, total=total, concurrency=concurrency, rate=rate, max_seconds=max_seconds,
                            keep_body=keep_body))


def json_request(method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None) -> Request:
    body = json.dumps(payload).encode() if payload is not None else b""
    base = {"Content-Type": "application/json", "Accept": "application/json"} if payload is not None else {"Accept": "application/json"}
    return Request(method, path, {**base, **(headers or {})}, body)
