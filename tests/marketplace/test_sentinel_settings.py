"""Redis Sentinel settings (issue 16, marketplace/sentinel.py): the broker and the cache built from
REDIS_SENTINELS; then, when Redis' own binary is at hand, a real sentinel in front of the test
Redis answers both."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from kombu import Connection
from redis.sentinel import SentinelConnectionPool

from marketplace.sentinel import SentinelPool, parse_sentinels, redis_from_url, sentinel_settings

ROOT = Path(__file__).resolve().parents[2]


def test_sentinels_and_master_make_the_broker_url_and_the_cache() -> None:
    built = sentinel_settings(sentinels=["s1:26379", "s2", "[fd00::3]:26380"], master="mymaster",
                              redis_url="redis://:p%40ss@ignored:6379/3", sentinel_password="sentry")
    assert built.broker_url == ("sentinel://:p%40ss@s1:26379/3;sentinel://:p%40ss@s2:26379/3;"
                                "sentinel://:p%40ss@[fd00::3]:26380/3")
    assert built.broker_transport_options == {"master_name": "mymaster", "sentinel_kwargs": {"password": "sentry"}}
    assert built.cache_location == "sentinel://:p%40ss@mymaster/3"
    assert built.cache_options == {"pool_class": "marketplace.sentinel.SentinelPool",
                                   "sentinels": [("s1", 26379), ("s2", 26379), ("fd00::3", 26380)],
                                   "sentinel_kwargs": {"password": "sentry"}}
    # Django splits a cache LOCATION on "," and ";": the sentinels must not travel in it.
    assert not set(",;") & set(built.cache_location)


def test_the_cache_pool_asks_the_sentinels_for_the_master_without_connecting() -> None:
    pool = SentinelPool.from_url("sentinel://:secret@MyMaster/5", sentinels=[("s1", 26379), ("s2", 26380)],
                                 sentinel_kwargs={"password": "sentry"})
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "MyMaster"
    assert pool.connection_kwargs["db"] == 5 and pool.connection_kwargs["password"] == "secret"
    sentinels = pool.sentinel_manager.sentinels
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"]) for s in sentinels] \
        == [("s1", 26379), ("s2", 26380)]
    assert sentinels[0].connection_pool.connection_kwargs["password"] == "sentry"


@pytest.mark.parametrize(("sentinels", "master"), [([], "mymaster"), ([" "], "mymaster"), (["s1:port"], "m"), (["s1"], "")])
def test_bad_sentinel_settings_are_refused(sentinels: list[str], master: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        sentinel_settings(sentinels=sentinels, master=master, redis_url="redis://h/0")


def test_the_settings_modules_apply_it_from_the_environment() -> None:
    """config.settings.base with REDIS_SENTINELS set, in a fresh interpreter (settings load once)."""
    env = {**os.environ, "REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "expo",
           "REDIS_URL": "redis://:pw@unused:6379/2", "CELERY_BROKER_URL": "", "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    script = ("import json; from django.conf import settings as s; c = s.CACHES['default'];"
              "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS, c['LOCATION'], c['OPTIONS']]))")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    broker, transport, location, options = json.loads(out.stdout.strip().splitlines()[-1])
    assert broker == "sentinel://:pw@10.0.0.1:26379/2;sentinel://:pw@10.0.0.2:26379/2"
    assert transport["master_name"] == "expo" and transport["visibility_timeout"] == 900  # the project's, kept
    assert location == "sentinel://:pw@expo/2"
    assert options["pool_class"] == "marketplace.sentinel.SentinelPool"
    assert options["sentinels"] == [["10.0.0.1", 26379], ["10.0.0.2", 26379]]


def test_without_sentinels_the_settings_are_as_before() -> None:
    assert parse_sentinels(["h"]) == [("h", 26379)]
    assert settings.CACHES["default"]["LOCATION"].startswith("redis://")
    assert "OPTIONS" not in settings.CACHES["default"]


# --- a real sentinel in front of the test Redis ------------------------------------------------------


@pytest.fixture
def sentinel() -> Iterator[tuple[int, str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian's redis-server runs this test)")
    redis_url = urlsplit(settings.REDIS_URL)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    folder = Path(tempfile.mkdtemp(prefix="sentinel-test-"))
    master = f"test-{uuid.uuid4().hex[:8]}"
    (folder / "sentinel.conf").write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {folder}\n"
        f"sentinel monitor {master} {redis_url.hostname} {redis_url.port or 6379} 1\n"
        f"sentinel down-after-milliseconds {master} 600000\n")
    process = subprocess.Popen([binary, str(folder / "sentinel.conf"), "--sentinel"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "the sentinel did not start"
            time.sleep(0.05)
        yield port, master
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_cache_and_the_broker_reach_redis_through_a_real_sentinel(sentinel: tuple[int, str]) -> None:
    port, master = sentinel
    built = sentinel_settings(sentinels=[f"127.0.0.1:{port}"], master=master, redis_url=settings.REDIS_URL)
    cache = RedisCache(built.cache_location, {"OPTIONS": built.cache_options, "KEY_PREFIX": f"sentinel-{master}"})
    try:
        cache.set("probe", {"through": "sentinel"}, 30)
        assert cache.get("probe") == {"through": "sentinel"}
        cache.delete("probe")
    finally:
        cache.close()
    queue_name = f"sentinel-test-{master}"
    with Connection(built.broker_url, transport_options=built.broker_transport_options) as conn:
        queue = conn.SimpleQueue(queue_name)
        try:
            queue.put({"n": 1})
            message = queue.get(timeout=5)
            assert message.payload == {"n": 1}
            message.ack()
        finally:
            queue.clear()
            queue.close()
    client = redis_from_url(built.broker_url, transport_options=built.broker_transport_options, socket_timeout=2)
    try:
        assert client.ping() is True and client.llen(queue_name) == 0
    finally:
        client.close()
