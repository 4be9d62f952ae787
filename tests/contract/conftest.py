"""The backends the store contract runs against.

To put a new backend under the contract, write a factory like the ones below and add it to
``BACKENDS``. A factory owns the store's lifetime and says how to make time pass for it: a fake
clock where the backend accepts one, a real wait where expiry happens elsewhere (Redis).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentcache.stores.base import Store
from agentcache.stores.file import FileStore
from agentcache.stores.memory import MemoryStore
from agentcache.stores.signed import SignedStore


class FakeClock:
    """A clock that moves only when told, so TTL tests need no sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    store: Store
    advance: Callable[[float], None]


@asynccontextmanager
async def memory_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    yield Backend(store, clock.advance)
    await store.close()


@asynccontextmanager
async def file_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    clock = FakeClock()
    store = FileStore(tmp_path / "cache", clock=clock)
    yield Backend(store, clock.advance)
    await store.close()


@asynccontextmanager
async def signed_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    clock = FakeClock()
    store = SignedStore(MemoryStore(clock=clock), "contract-test-secret-0123456789")
    yield Backend(store, clock.advance)
    await store.close()


def real_sleep(seconds: float) -> None:
    """Redis keeps its own time: really wait, but at most 2 s (a "10 years" step only checks
    that an entry without TTL is still there; ``test_redis_store`` checks it has no TTL)."""
    time.sleep(min(seconds, 2.0))


@asynccontextmanager
async def redis_backend(tmp_path: Path, redis_url: str) -> AsyncIterator[Backend]:
    from agentcache_redis import from_url

    # A fresh prefix per test isolates it on a shared server; small values get compressed too.
    prefix = f"contract-{uuid.uuid4().hex[:12]}"
    store = from_url(f"{redis_url}?prefix={prefix}&compress_min_bytes=64")
    yield Backend(store, real_sleep)
    await store.clear()
    await store.close()


@asynccontextmanager
async def redis_cluster_backend(tmp_path: Path, redis_cluster_url: str) -> AsyncIterator[Backend]:
    from agentcache_redis import from_url

    store = from_url(f"{redis_cluster_url}?prefix=contract-{uuid.uuid4().hex[:12]}")
    yield Backend(store, real_sleep)
    await store.clear()
    await store.close()


BACKENDS: dict[str, Callable[..., AbstractAsyncContextManager[Backend]]] = {
    "memory": memory_backend,
    "file": file_backend,
    "signed": signed_backend,
    "redis": redis_backend,
    "redis_cluster": redis_cluster_backend,
}
FIXTURES: dict[str, tuple[str, ...]] = {
    "redis": ("redis_url",),
    "redis_cluster": ("redis_cluster_url",),
}
"""Session fixtures a factory takes as keyword arguments (servers started once per session)."""


@pytest.fixture(params=list(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    fixtures: dict[str, Any] = {
        name: request.getfixturevalue(name) for name in FIXTURES.get(request.param, ())
    }
    async with BACKENDS[request.param](tmp_path, **fixtures) as b:
        yield b


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store


@pytest.fixture
def advance(backend: Backend) -> Callable[[float], None]:
    """Make ``seconds`` pass for the store under test."""
    return backend.advance
