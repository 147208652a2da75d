"""The multi-host stack, built once per module (about 30 s) and always torn down.

These tests never use pytest-django's database: the hosts run their own Postgres, and the test
reads and seeds it with plain SQL from the client host. The suite's autouse cache clearing is
switched off here, so the machine's Redis is not touched either.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.multihost.hosts import log, preflight
from tests.multihost.stack import Cluster, World

BUYERS = int(os.environ.get("MULTIHOST_BUYERS", "3000"))
SHOPPERS = 4  # not buyers of the drop: the read-your-writes and catalog checks


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Replaces the suite's: these tests have no business with the machine's Redis."""


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    reason = preflight()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the multi-host test must run in CI: {reason}")
        pytest.skip(reason)
    run_id = os.environ.get("TEST_RUN_ID") or "local"
    failed_before = request.session.testsfailed
    cluster = Cluster(run_id)
    crashed = False
    left: list[str] = []
    try:
        cluster.start()
        exhibitor_id = cluster.seed("exhibitor", slug=f"mh-{run_id}".lower()[:40])
        pairs = [(uid, token) for uid, token in cluster.seed("shoppers", count=BUYERS + SHOPPERS, tag=secrets.token_hex(3))]
        log(f"seeded {len(pairs)} shoppers with session tokens")
        cluster.start_replica_and_apps()
        yield World(cluster=cluster, exhibitor_id=exhibitor_id, buyers=pairs[:BUYERS], shoppers=pairs[BUYERS:])
    except Exception:
        crashed = True
        for name in ("haproxy.log", "web1.log", "web2.log", "wk1.log", "wk2.log", "beat-wk2.log", "pg1.log", "pg2.log"):
            print(cluster.tail(name, 30))
        raise
    finally:
        left = cluster.stop(keep_files=crashed or request.session.testsfailed > failed_before)
        if left:
            log(f"network namespaces left behind: {left}")
    assert not left, f"network namespaces left behind: {left}"
