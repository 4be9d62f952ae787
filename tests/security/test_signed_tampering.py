"""Whoever can write to a signed shared cache cannot make an agent serve their bytes.

Entries written through a ``SignedStore`` are tampered with in the store underneath (Redis, and
a file-store directory), as an attacker with write access to it would: one bit flipped in the
answer, two entries' values swapped, an answer of their choosing signed with another secret,
one tenant's entry copied over another tenant's. The next ``Runner.run`` (or
``Runner.run_streamed``) of the same prompt is then a miss answered by the model, the error is
counted as ``bad_signature``, nothing tampered reaches the output, and the fresh answer is
stored and served again.

(``tests/unit/test_signed_store.py`` checks the same signature rules on the store alone.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agentcache_redis import RedisStore
from redis.asyncio import Redis

import agentcache
from agentcache import CachedModel, CacheKey, FileStore, SignedStore, Store
from tests.security.conftest import TenantModel, ask

SECRET = "the signing secret of this cache, 0123456789"
ATTACKER_SECRET = "a secret of the attacker's own, 0123456789"
A, B = "What is our refund policy?", "Which regions do we ship to?"
SIGNATURE = len(b"acs1") + 32
"""A signed value: a 4-byte format mark and an HMAC-SHA256, then the entry's bytes."""


@pytest.fixture(params=["redis", "file"])
async def raw_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store under the signing wrapper: what an attacker with write access reaches."""
    if request.param == "file":
        yield FileStore(tmp_path / "cache")
        return
    redis_url: str = request.getfixturevalue("redis_url")
    store = RedisStore(Redis.from_url(redis_url), prefix=f"tamper-{uuid.uuid4().hex[:10]}")
    yield store
    await store.clear()
    await store.client.aclose()


def answer_text(raw: bytes, marker: bytes = b"ANSWER #") -> bytes:
    """The answer text inside a stored entry's bytes (signed values are plain JSON after the
    signature; this cache's entries are small enough to stay uncompressed)."""
    start = raw.index(marker)
    return raw[start : raw.index(b'"', start)]


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("tamper", ["flip", "swap", "attacker_secret", "other_tenant"])
async def test_a_tampered_entry_is_a_miss_answered_by_the_model(
    raw_store: Store, tamper: str, streamed: bool
) -> None:
    inner = TenantModel(fixed="ANSWER")  # "ANSWER #n": every answer the model gives is unique
    cached = CachedModel(inner, store=SignedStore(raw_store, SECRET))
    with agentcache.namespace("t1"):
        assert await ask(cached, A) == "ANSWER #1"
        assert await ask(cached, B) == "ANSWER #2"
    with agentcache.namespace("t2"):
        assert await ask(cached, A) == "ANSWER #3"
    await cached.flush()
    key_a, key_b, key_a2 = (call.key for call in list(cached.recent_calls)[-3:])
    assert isinstance(key_a, CacheKey) and key_a.namespace == "t1" and key_a2.namespace == "t2"
    stored = {key: await raw_store.get(key) for key in (key_a, key_b, key_a2)}
    raw_a, raw_b = stored[key_a], stored[key_b]
    assert raw_a is not None and raw_b is not None and stored[key_a2] is not None

    # (tenant, prompt) asked next, the bytes planted under its key, and what they would say
    target: list[tuple[str, str]] = [("t1", A)]
    if tamper == "flip":  # one bit of one character of the answer: "ANSWER #1" -> "ANSWER #0"
        at = raw_a.index(b"ANSWER #1") + len("ANSWER #")
        planted = raw_a[:at] + bytes([raw_a[at] ^ 0x01]) + raw_a[at + 1 :]
        await raw_store.set(key_a, planted)
        planted_texts = [b"ANSWER #0"]
    elif tamper == "swap":  # valid signed entries, each under the other's key
        await raw_store.set(key_a, raw_b)
        await raw_store.set(key_b, raw_a)
        target.append(("t1", B))
        planted_texts = [b"ANSWER #2", b"ANSWER #1"]
    elif tamper == "attacker_secret":  # an answer of their choosing, correctly signed, but not
        forged = raw_a[SIGNATURE:].replace(b"ANSWER #1", b"ANSWER #666: wire it all")
        await SignedStore(raw_store, ATTACKER_SECRET).set(key_a, forged)
        planted_texts = [b"ANSWER #666: wire it all"]
    else:  # t1's signed entry for A copied over t2's entry for the same prompt
        await raw_store.set(key_a2, raw_a)
        target = [("t2", A)]
        planted_texts = [b"ANSWER #1"]
    planted_bytes = {key: await raw_store.get(key) for key in (key_a, key_b, key_a2)}

    before = cached.stats()
    outputs = []
    for tenant, prompt in target:
        with agentcache.namespace(tenant):
            outputs.append(await ask(cached, prompt, streamed=streamed))
    await cached.flush()

    # each one a miss the model answered afresh: never the planted answer
    fresh = [f"ANSWER #{n}" for n in range(4, 4 + len(target))]
    assert outputs == fresh
    assert all(text.decode() not in outputs for text in planted_texts)
    assert inner.total == 3 + len(target)
    stats = cached.stats()
    assert stats.misses - before.misses == len(target) and stats.hits == before.hits
    assert stats.errors == {"bad_signature": len(target)}

    # the planted bytes are gone, the fresh answer is stored signed, and it is served again
    for (tenant, prompt), answer in zip(target, fresh, strict=True):
        key = key_a2 if tenant == "t2" else {A: key_a, B: key_b}[prompt]
        now = await raw_store.get(key)
        assert now is not None and now != planted_bytes[key]
        assert answer_text(now) == answer.encode()
        with agentcache.namespace(tenant):
            assert await ask(cached, prompt, streamed=streamed) == answer
    assert inner.total == 3 + len(target)
    assert cached.stats().hits == before.hits + len(target)
    await cached.close()
