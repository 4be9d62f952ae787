"""The memory store's compact layout: keys read back exactly, never collide, and the store holds
little beyond the values themselves."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from agentcache.stores.base import CacheKey
from agentcache.stores.memory import MemoryStore

HEX = hashlib.sha256(b"x").hexdigest()


class Text(str):
    """A str subclass: a key made of them is the same key as one of plain strings."""


ODD_KEYS = [
    CacheKey("default", HEX),
    CacheKey("default", HEX.upper()),  # another string: another key
    CacheKey("other", HEX),
    CacheKey("default", HEX[:-1] + " "),
    CacheKey("default", " " + HEX[1:]),
    CacheKey("default", HEX[:32] + " " + HEX[33:]),
    CacheKey("default", "k1"),
    CacheKey("default", ""),
    CacheKey("", "k1"),
    CacheKey("ns\x00with nul", HEX),
    CacheKey("é-ns", "dig\u00e9st"),
    CacheKey("\ud800", "\udfff"),  # lone surrogates
    CacheKey("a", "b" * 64),
    CacheKey("a" + HEX, ""),
    CacheKey("ns", "0" * 64),
]


async def test_every_key_is_its_own_and_reads_back() -> None:
    store = MemoryStore()
    for i, key in enumerate(ODD_KEYS):
        await store.set(key, b"%d" % i)
    for i, key in enumerate(ODD_KEYS):
        assert await store.get(key) == b"%d" % i, key
    listed = [k async for k in store.keys()]  # noqa: SIM118 - an async iterator, not a dict
    assert listed == ODD_KEYS
    assert {k async for k in store.keys("default")} == {
        k for k in ODD_KEYS if k.namespace == "default"
    }
    assert all(type(k) is CacheKey for k in listed)
    for key in ODD_KEYS:
        assert await store.size(key.namespace) == sum(
            1 for k in ODD_KEYS if k.namespace == key.namespace
        )
    assert await store.clear("default") == sum(1 for k in ODD_KEYS if k.namespace == "default")
    assert await store.get(CacheKey("other", HEX)) == b"2"
    for key in ODD_KEYS:
        await store.delete(key)
    assert await store.size() == 0 and store.nbytes == 0


async def test_keys_of_str_subclasses_are_the_equal_plain_keys() -> None:
    store = MemoryStore()
    await store.set(CacheKey(Text("ns"), Text(HEX)), b"1")
    assert await store.get(CacheKey("ns", HEX)) == b"1"
    await store.set(CacheKey("ns", "short"), b"2")
    assert await store.get(CacheKey(Text("ns"), Text("short"))) == b"2"
    assert await store.size() == 2


async def test_ttl_table_holds_only_live_entries_with_a_ttl() -> None:
    now = [0.0]
    store = MemoryStore(max_entries=2, clock=lambda: now[0])
    a, b, c = (CacheKey("n", hashlib.sha256(x).hexdigest()) for x in (b"a", b"b", b"c"))
    await store.set(a, b"1", ttl=10)
    await store.set(a, b"2")  # replaced without a TTL: it never expires
    now[0] = 20.0
    assert await store.get(a) == b"2"
    await store.set(b, b"3", ttl=5)
    await store.set(c, b"4", ttl=5)  # evicts a (least recently used)
    assert await store.get(a) is None
    await store.delete(b)
    now[0] = 30.0
    assert await store.get(c) is None  # expired
    assert store._expires == {} and await store.size() == 0 and store.nbytes == 0


@pytest.mark.parametrize("size", [900, 4000])
async def test_bytes_held_stay_close_to_the_entries(size: int) -> None:
    """Everything the store allocates for n entries (values included), per byte of values."""
    n = 2000
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        store = MemoryStore(max_entries=n)
        for i in range(n):
            key = CacheKey("default", hashlib.sha256(b"%d" % i).hexdigest())
            await store.set(key, bytes([i % 251]) * size)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert await store.size() == n
    assert held / (n * size) <= 1.5
