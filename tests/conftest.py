from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from agents import set_tracing_disabled

# The SDK would try to export traces to the platform; tests have no key and need no traces.
set_tracing_disabled(True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test proves nothing: the suite provisions what it needs, so a skip fails it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        reporter.write_line(f"FAILED: {len(skipped)} test(s) skipped; skips count as failures")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _redis_server_module() -> ModuleType:
    """``scripts/redis_server.py``, which provisions Redis from wheels (idempotent)."""
    from tests.support import load_script

    return load_script("redis_server")


@pytest.fixture(scope="session")
def redis_server_module() -> ModuleType:
    return _redis_server_module()


@pytest.fixture(scope="session")
def redis_url(redis_server_module: ModuleType) -> Iterator[str]:
    """One Redis 8 with the search and JSON modules for the session, or the server named by
    ``AGENTCACHE_TEST_REDIS_URL``. Tests isolate themselves by key prefix, never by FLUSHALL."""
    existing = os.environ.get("AGENTCACHE_TEST_REDIS_URL")
    if existing:
        yield existing
        return
    with redis_server_module.RedisServer(modules=True) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster(redis_server_module: ModuleType) -> Iterator[list[Any]]:
    """A real cluster, 3 masters and 3 replicas on loopback (``cluster-node-timeout`` 1 s)."""
    nodes = redis_server_module.start_cluster(3, 1)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.close()


@pytest.fixture(scope="session")
def redis_cluster_url(redis_cluster: list[Any]) -> str:
    return f"redis+cluster://127.0.0.1:{redis_cluster[0].port}"
