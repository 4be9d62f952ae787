from __future__ import annotations

import asyncio
import hashlib
import random
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from agentcache.stores.base import CacheKey
from agentcache.stores.memory import MemoryStore


def key(name: str, namespace: str = "ns") -> CacheKey:
    return CacheKey(namespace, hashlib.sha256(name.encode()).hexdigest())


async def present(store: MemoryStore, *names: str) -> set[str]:
    return {n for n in names if await store.get(key(n)) is not None}


async def test_get_refreshes_recency() -> None:
    store = MemoryStore(max_entries=3)
    for name in "abc":
        await store.set(key(name), name.encode())
    await store.get(key("a"))
    await store.set(key("d"), b"d")
    assert await present(store, *"abcd") == {"a", "c", "d"}


async def test_set_refreshes_recency() -> None:
    store = MemoryStore(max_entries=3)
    for name in "abc":
        await store.set(key(name), name.encode())
    await store.set(key("a"), b"A")
    await store.set(key("d"), b"d")
    assert await present(store, *"abcd") == {"a", "c", "d"}


async def test_evicts_least_recently_used_by_entry_count() -> None:
    store = MemoryStore(max_entries=2)
    for name in "abcde":
        await store.set(key(name), name.encode())
    assert await present(store, *"abcde") == {"d", "e"}
    assert await store.size() == 2
    assert store.nbytes == 2


async def test_evicts_until_total_bytes_fit() -> None:
    store = MemoryStore(max_bytes=10)
    await store.set(key("a"), b"a" * 4)
    await store.set(key("b"), b"b" * 4)
    await store.set(key("c"), b"c" * 2)
    assert store.nbytes == 10
    await store.set(key("d"), b"d" * 7)  # must evict a and b, not just a
    assert await present(store, *"abcd") == {"c", "d"}
    assert store.nbytes == 9


async def test_value_of_exactly_max_bytes_is_kept() -> None:
    store = MemoryStore(max_bytes=10)
    await store.set(key("a"), b"a" * 3)
    await store.set(key("b"), b"b" * 10)
    assert await present(store, "a", "b") == {"b"}
    assert store.nbytes == 10


async def test_oversize_value_is_dropped_and_replaces_old_value() -> None:
    store = MemoryStore(max_bytes=10)
    await store.set(key("keep"), b"k" * 5)
    await store.set(key("big"), b"old")
    await store.set(key("big"), b"x" * 11)
    assert await store.get(key("big")) is None  # the old value must not come back
    assert await store.get(key("keep")) == b"k" * 5  # nothing was evicted for it
    assert store.nbytes == 5


async def test_expired_entry_is_removed_on_access() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.set(key("a"), b"abc", ttl=5)
    await store.set(key("b"), b"de")
    now[0] = 5.0  # expiry is inclusive: at expires_at the entry is gone
    assert store.nbytes == 5
    assert await store.get(key("a")) is None
    assert store.nbytes == 2


async def test_size_purges_expired_entries_of_every_namespace() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.set(key("a", "x"), b"abc", ttl=1)
    await store.set(key("b", "y"), b"de")
    now[0] = 2.0
    assert await store.size("y") == 1
    assert store.nbytes == 2


def test_threads_keep_bounds_and_byte_accounting() -> None:
    store = MemoryStore(max_entries=40, max_bytes=2_000)
    keys = [key(str(i), namespace=f"ns{i % 3}") for i in range(100)]

    def worker(seed: int) -> None:
        rng = random.Random(seed)

        async def ops() -> None:
            for _ in range(1000):
                k, roll = rng.choice(keys), rng.random()
                if roll < 0.5:
                    await store.set(k, bytes(rng.randrange(120)), ttl=rng.choice([None, 60]))
                elif roll < 0.9:
                    await store.get(k)
                elif roll < 0.98:
                    await store.delete(k)
                elif roll < 0.99:
                    await store.size(k.namespace)
                else:
                    await store.clear(k.namespace)

        asyncio.run(ops())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke races
    try:
        with ThreadPoolExecutor(8) as pool:
            for done in [pool.submit(worker, seed) for seed in range(8)]:
                done.result()
    finally:
        sys.setswitchinterval(interval)

    async def contents() -> list[bytes]:
        return [v for k in keys if (v := await store.get(k)) is not None]

    values = asyncio.run(contents())
    assert store.nbytes == sum(map(len, values)) <= 2_000
    assert asyncio.run(store.size()) == len(values) <= 40


async def test_from_url_defaults() -> None:
    store = MemoryStore.from_url("memory://")
    for i in range(100):
        await store.set(key(str(i)), b"x")
    assert await store.size() == 100


async def test_from_url_limits() -> None:
    store = MemoryStore.from_url("memory://?max_entries=2&max_bytes=100")
    for name in "abc":
        await store.set(key(name), b"x")
    assert await store.size() == 2
    await store.set(key("big"), b"x" * 101)
    assert await store.get(key("big")) is None


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("memory://?max_entrys=5", "max_entrys"),
        ("memory://?max_entries=many", "max_entries"),
        ("memory://?max_bytes=", "max_bytes"),
        ("memory://?max_bytes=1.5", "max_bytes"),
        ("memory://?max_entries=0", "max_entries"),
        ("memory://?max_bytes=-1", "max_bytes"),
        ("memory://max_entries=5", "memory://"),
        ("redis://localhost", "memory://"),
    ],
)
def test_from_url_rejects_bad_urls_naming_the_culprit(url: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        MemoryStore.from_url(url)
