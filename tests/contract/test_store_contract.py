"""The contract of :class:`agentcache.stores.base.Store`, run against every backend.

TTLs here are about a second so that a backend whose time cannot be faked (Redis) passes them
with a short real wait; for the others ``advance`` moves a fake clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable

import pytest

from agentcache.stores.base import CacheKey, Store

Advance = Callable[[float], None]


def key(name: str, namespace: str = "ns") -> CacheKey:
    return CacheKey(namespace, hashlib.sha256(name.encode()).hexdigest())


def entry(**fields: object) -> bytes:
    """A JSON value in the canonical form the codec writes (every backend keeps it exactly)."""
    return json.dumps(fields, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


VALUE = entry(output=[{"text": "héllo ✓", "n": 1.5}], usage=None, ok=True)


async def test_get_of_missing_key_is_none(store: Store) -> None:
    assert await store.get(key("missing")) is None


async def test_json_value_round_trips(store: Store) -> None:
    await store.set(key("k"), VALUE)
    assert await store.get(key("k")) == VALUE


@pytest.mark.parametrize(
    "value",
    [b"", b"\x00\xff\xfe", bytes(range(256)), b"{not json", "héllo".encode("latin-1"), b"NaN"],
    ids=["empty", "binary", "all-bytes", "broken-json", "latin-1", "nan"],
)
async def test_non_json_bytes_round_trip_exactly(store: Store, value: bytes) -> None:
    await store.set(key("k"), value)
    assert await store.get(key("k")) == value


async def test_set_replaces_value(store: Store) -> None:
    await store.set(key("k"), entry(v=1))
    await store.set(key("k"), entry(v=2))
    assert await store.get(key("k")) == entry(v=2)
    assert await store.size() == 1


async def test_set_replaces_ttl(store: Store, advance: Advance) -> None:
    await store.set(key("was-ttl"), entry(v=1), ttl=1)
    await store.set(key("was-ttl"), entry(v=2))
    await store.set(key("now-ttl"), entry(v=3))
    await store.set(key("now-ttl"), entry(v=4), ttl=1)
    advance(1.5)
    assert await store.get(key("was-ttl")) == entry(v=2)
    assert await store.get(key("now-ttl")) is None


async def test_delete_removes_only_that_key(store: Store) -> None:
    await store.set(key("a"), entry(v="a"))
    await store.set(key("b"), entry(v="b"))
    await store.delete(key("a"))
    assert await store.get(key("a")) is None
    assert await store.get(key("b")) == entry(v="b")
    assert await store.size() == 1


async def test_delete_of_missing_key_is_not_an_error(store: Store) -> None:
    await store.delete(key("missing"))
    await store.delete(key("missing", namespace="never-used"))
    assert await store.size() == 0


async def test_entry_expires_after_ttl(store: Store, advance: Advance) -> None:
    await store.set(key("k"), VALUE, ttl=1)
    advance(0.5)
    assert await store.get(key("k")) == VALUE
    advance(0.6)
    assert await store.get(key("k")) is None
    assert await store.get(key("k")) is None
    assert await store.size() == 0


async def test_expired_entries_are_not_counted(store: Store, advance: Advance) -> None:
    await store.set(key("short"), VALUE, ttl=1)
    await store.set(key("forever"), VALUE)
    advance(1.5)
    assert await store.size() == 1
    assert await store.size("ns") == 1
    assert await store.clear() == 1
    assert await store.size() == 0


async def test_no_ttl_never_expires(store: Store, advance: Advance) -> None:
    await store.set(key("k"), VALUE, ttl=None)
    advance(10 * 365 * 24 * 3600)
    assert await store.get(key("k")) == VALUE


async def test_namespaces_are_isolated(store: Store) -> None:
    await store.set(key("k", "tenant-a"), entry(tenant="a"))
    await store.set(key("k", "tenant-b"), entry(tenant="b"))
    assert await store.get(key("k", "tenant-a")) == entry(tenant="a")
    assert await store.get(key("k", "tenant-b")) == entry(tenant="b")
    assert await store.get(key("k", "tenant-c")) is None
    await store.delete(key("k", "tenant-a"))
    assert await store.get(key("k", "tenant-b")) == entry(tenant="b")


async def test_clear_and_size_by_namespace(store: Store) -> None:
    for name in ("1", "2", "3"):
        await store.set(key(name, "a"), entry(name=name))
    for name in ("1", "2"):
        await store.set(key(name, "b"), entry(name=name))

    assert (await store.size("a"), await store.size("b"), await store.size()) == (3, 2, 5)
    assert await store.size("c") == 0
    assert await store.clear("c") == 0

    assert await store.clear("a") == 3
    assert await store.clear("a") == 0
    assert await store.get(key("1", "a")) is None
    assert await store.get(key("1", "b")) == entry(name="1")
    assert (await store.size("a"), await store.size("b"), await store.size()) == (0, 2, 2)

    assert await store.clear() == 2
    assert await store.size() == 0
    assert await store.clear() == 0


async def test_size_counts_keys_not_writes(store: Store) -> None:
    assert await store.size() == 0
    await store.set(key("a"), entry(v=1))
    await store.set(key("a"), entry(v=2))
    await store.set(key("b"), entry(v=3))
    assert await store.size() == 2


async def test_concurrent_tasks_on_distinct_keys(store: Store) -> None:
    async def roundtrip(i: int) -> bytes | None:
        await store.set(key(str(i)), entry(i=i))
        return await store.get(key(str(i)))

    results = await asyncio.gather(*(roundtrip(i) for i in range(200)))
    assert results == [entry(i=i) for i in range(200)]
    assert await store.size() == 200


async def test_concurrent_tasks_on_shared_keys(store: Store) -> None:
    """Racing writers leave one writer's whole value under each key, never a mix or nothing."""
    keys = 20

    async def write_then_read(i: int) -> bytes | None:
        await store.set(key(str(i % keys)), entry(i=i, pad="x" * i))
        return await store.get(key(str(i % keys)))

    def written_to(k: int) -> set[bytes]:
        return {entry(i=i, pad="x" * i) for i in range(k, 200, keys)}

    results = await asyncio.gather(*(write_then_read(i) for i in range(200)))
    for i, got in enumerate(results):
        assert got in written_to(i % keys)
    for k in range(keys):
        assert await store.get(key(str(k))) in written_to(k)
    assert await store.size() == keys


async def test_close_is_idempotent(store: Store) -> None:
    await store.set(key("k"), VALUE)
    await store.close()
    await store.close()
