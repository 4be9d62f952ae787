"""Tenant isolation under load: many interleaved tasks of several tenants (the namespace set per
task with ``agentcache.namespace``) ask overlapping prompts through one ``CachedModel``.

The inner model's answer names the tenant whose task called it, so a single answer served
across tenants shows in the output. Inner calls are counted, so the test also shows that
caching still works within each tenant: exactly one model call per (tenant, prompt).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from agentcache_redis import RedisStore, find_redis_store
from redis.asyncio import Redis

import agentcache
from agentcache import CachedModel
from agentcache.cli import list_keys
from agentcache.entry import decode
from tests.security.conftest import TenantModel, answer_of, ask, drop_prefix, prefixed

# Names chosen to collide if anything compared, encoded or matched them loosely: a prefix of
# another, case only, ":" and its percent-encoding, glob and tag-query characters, a space.
TENANTS = ["t1", "t10", "T1", "t:1", "t%3A1", "acme corp", "a|b", "ten*", "{x}", "ünï-tenant"]
PROMPTS = [f"Question {i}: what is the status of order {1000 + i}?" for i in range(20)]

# (original, paraphrase) pairs the default guards let through at the default threshold, on
# distinct topics so that no paraphrase is near another pair's original.
PAIRS = [
    ("What is the capital of Canada?", "what's the capital of canada"),
    ("How do I enable logging in Django?", "How can I turn on logging in a Django project?"),
    ("Which foods are high in vitamin D?", "What foods contain a lot of vitamin D?"),
    ("Write a regex that matches US ZIP codes.", "Give me a regular expression for US ZIP codes."),
    ("How do I request a refund for my order?", "What's the process to get a refund on my order?"),
    ("How do I remove all stopped Docker containers?", "docker: delete every stopped container"),
    ("Compare Python and Go in a table.", "Give me a comparison table of Python vs Go."),
    ("I forgot my password. How do I reset it?", "forgot password - how to reset?"),
]


def subset(tenant_index: int) -> list[int]:
    """The pairs whose original a tenant asked: half of them, a different half per tenant."""
    return [(tenant_index + j) % len(PAIRS) for j in range(len(PAIRS) // 2)]


@pytest.fixture(params=["memory", "redis"])
async def store_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """No store argument (the default in-process store), or the session's Redis under a prefix
    of the test's own (whose keys and semantic index are removed afterwards)."""
    if request.param == "memory":
        yield None
        return
    redis_url: str = request.getfixturevalue("redis_url")
    prefix = f"iso-{uuid.uuid4().hex[:10]}"
    # Client timeouts to match the generous store budget below: under a burst on two loaded
    # cores, opening the pool's connections can take longer than the 1 s default.
    yield prefixed(redis_url, prefix) + "&socket_connect_timeout=10&socket_timeout=10"
    client = Redis.from_url(redis_url)
    await drop_prefix(client, prefix)
    await client.aclose()


async def tenant_task(
    cached: CachedModel, tenant: str, prompt: str, streamed: bool, seed: int
) -> tuple[str, str, str]:
    """Ask as ``tenant``, after a few random yields so that tasks of all tenants interleave."""
    for _ in range(seed % 4):
        await asyncio.sleep(0)
    with agentcache.namespace(tenant):
        output = await ask(cached, prompt, streamed=streamed)
    return tenant, prompt, output


async def run_all(cached: CachedModel, asks: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Every (tenant, prompt) as its own task, all at once; every third one streamed."""
    tasks = [
        tenant_task(cached, tenant, prompt, streamed=i % 3 == 0, seed=i)
        for i, (tenant, prompt) in enumerate(asks)
    ]
    results = await asyncio.gather(*tasks)
    await cached.flush()
    return results


def wrong(results: list[tuple[str, str, str]], expected: Callable[[str, str], str]) -> list[Any]:
    return [(t, p, out) for t, p, out in results if out != expected(t, p)]


async def stored_answers(cached: CachedModel) -> dict[str, list[str]]:
    """The answer text of every stored entry, by the namespace it is stored in."""
    found: dict[str, list[str]] = {}
    for key in await list_keys(cached.store):
        raw = await cached.store.get(key)
        assert raw is not None
        texts = [c["text"] for item in decode(raw).output for c in item.get("content", [])]
        found.setdefault(key.namespace, []).extend(texts)
    return found


async def test_exact_1000_interleaved_tasks_of_10_tenants(store_url: str | None) -> None:
    inner = TenantModel(latency=0.005)
    # A generous store budget: a burst of 1,000 runs on two loaded cores must not turn store
    # calls into timeouts (misses that would blur the count of model calls).
    cached = CachedModel(inner, store=store_url, store_timeout=10.0)
    asks = [(tenant, prompt) for tenant in TENANTS for prompt in PROMPTS] * 5
    random.Random(7).shuffle(asks)
    assert len(asks) == 1000

    results = await run_all(cached, asks)

    assert wrong(results, answer_of) == []  # 0 cross-tenant answers
    # caching within each tenant: one model call per (tenant, prompt), every other run a hit
    assert inner.calls == {(t, p): 1 for t in TENANTS for p in PROMPTS}
    stats = cached.stats()
    assert (stats.misses, stats.hits, stats.errors) == (200, 800, {})
    stored = await stored_answers(cached)
    assert sorted(stored) == sorted(TENANTS)
    for tenant, texts in stored.items():
        assert sorted(texts) == sorted(answer_of(tenant, p) for p in PROMPTS)
    if store_url is not None:  # the key names: one namespace segment per tenant, no more
        redis = find_redis_store(cached.store)
        assert isinstance(redis, RedisStore)
        names = [n async for n in redis.client.scan_iter(match=f"{redis.prefix}:*")]
        assert len(names) == 200 and all(not n.endswith(b":lock") for n in names)
    await cached.close()


async def test_semantic_interleaved_tenants_never_see_each_others_near_duplicates(
    store_url: str | None, warm_embedding_model: None
) -> None:
    """Each tenant first asks half of the originals; then every tenant asks every paraphrase.

    A paraphrase whose original the tenant asked is a semantic hit with the tenant's own answer;
    one whose original only *other* tenants asked (a close match in their namespaces, in the
    same index) must be a miss answered by the model for this tenant.
    """
    inner = TenantModel(latency=0.005)
    cached = CachedModel(inner, store=store_url, semantic=True, store_timeout=10.0)
    if store_url is not None:  # the vector search runs in Redis, not in the process
        from agentcache_semantic.redis_index import RedisVLIndex

        semantic = next(s for s in cached.stages if s.name == "semantic")
        assert isinstance(semantic.index, RedisVLIndex)  # type: ignore[attr-defined]

    first = [(t, PAIRS[j][0]) for i, t in enumerate(TENANTS) for j in subset(i)]
    random.Random(1).shuffle(first)
    results = await run_all(cached, first)
    assert wrong(results, answer_of) == []
    assert inner.calls == {(t, p): 1 for t, p in first}

    owned = {(t, PAIRS[j][1]): PAIRS[j][0] for i, t in enumerate(TENANTS) for j in subset(i)}
    second = [(t, paraphrase) for t in TENANTS for _, paraphrase in PAIRS] + first
    random.Random(2).shuffle(second)
    results = await run_all(cached, second)

    def expected(tenant: str, prompt: str) -> str:
        # a semantic hit answers with the tenant's own original; anything else, the model
        return answer_of(tenant, owned.get((tenant, prompt), prompt))

    assert wrong(results, expected) == []  # 0 cross-tenant answers
    unowned = {(t, paraphrase) for t in TENANTS for _, paraphrase in PAIRS} - owned.keys()
    assert len(unowned) == len(TENANTS) * len(PAIRS) // 2
    # the model was asked again only for the paraphrases of originals the tenant never asked
    assert inner.calls == {**{(t, p): 1 for t, p in first}, **{k: 1 for k in unowned}}
    stats = cached.stats()
    assert stats.hits_by_layer == {"exact": len(first), "semantic": len(owned)}
    assert stats.errors == {}
    await cached.close()
