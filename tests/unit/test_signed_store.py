"""SignedStore over the memory store: what passes the check and what does not."""

from __future__ import annotations

import hashlib

import pytest

from agentcache import BadValue, CacheKey, MemoryStore, SignedStore

SECRET = "0123456789abcdef-secret"


def key(name: str, namespace: str = "ns") -> CacheKey:
    return CacheKey(namespace, hashlib.sha256(name.encode()).hexdigest())


async def test_signed_value_round_trips_and_is_stored_signed() -> None:
    inner = MemoryStore()
    store = SignedStore(inner, SECRET)
    await store.set(key("k"), b"value")
    assert await store.get(key("k")) == b"value"
    raw = await inner.get(key("k"))
    assert raw is not None and raw.endswith(b"value") and raw != b"value"


@pytest.mark.parametrize("how", ["flipped", "unsigned", "other_secret", "moved", "other_ns"])
async def test_bad_signatures_are_removed_and_raise(how: str) -> None:
    inner = MemoryStore()
    store = SignedStore(inner, SECRET)
    await store.set(key("k"), b"value")
    raw = await inner.get(key("k"))
    assert raw is not None
    target = key("k")
    if how == "flipped":
        await inner.set(target, raw[:-1] + b"X")
    elif how == "unsigned":
        await inner.set(target, b"value")
    elif how == "other_secret":
        await SignedStore(inner, "another-secret-of-length").set(target, b"value")
    elif how == "moved":  # a valid signed value copied under another key
        target = key("other")
        await inner.set(target, raw)
    else:
        target = key("k", "other-tenant")
        await inner.set(target, raw)
    with pytest.raises(BadValue) as info:
        await store.get(target)
    assert info.value.kind == "bad_signature"
    assert await inner.get(target) is None


async def test_previous_secrets_still_verify_during_rotation() -> None:
    inner = MemoryStore()
    await SignedStore(inner, "the-old-secret-0000").set(key("k"), b"value")
    rotated = SignedStore(inner, SECRET, previous_secrets=["the-old-secret-0000"])
    assert await rotated.get(key("k")) == b"value"
    with pytest.raises(BadValue):  # without the old secret, the same value is rejected
        await SignedStore(inner, SECRET).get(key("k"))


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SignedStore(MemoryStore(), "short")
