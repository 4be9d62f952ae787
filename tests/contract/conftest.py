"""The backends the store contract runs against.

To put a new backend under the contract, write a factory like the ones below and add it to
``BACKENDS``. A factory owns the store's lifetime and says how to make time pass for it: a fake
clock where the backend accepts one, a real wait where expiry happens elsewhere (Redis).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentcache.stores.base import Store
from agentcache.stores.file import FileStore
from agentcache.stores.memory import MemoryStore


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


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[Backend]]] = {
    "memory": memory_backend,
    "file": file_backend,
}


@pytest.fixture(params=list(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with BACKENDS[request.param](tmp_path) as b:
        yield b


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store


@pytest.fixture
def advance(backend: Backend) -> Callable[[float], None]:
    """Make ``seconds`` pass for the store under test."""
    return backend.advance
