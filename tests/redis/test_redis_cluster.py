"""Redis Cluster: entries spread over the masters, clear and size see all of them, and a
killed master costs misses, never a failed run, until its replica takes over."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from agentcache_redis import RedisStore
from agents import RunConfig, Runner
from redis.asyncio import RedisCluster

from agentcache import CachedModel, CacheKey, CircuitBreaker
from tests.support import TurnModel, weather_agent

PROMPT = "What's the weather in Paris in Fahrenheit?"
ANSWER = "Sunny, 69.8F in Paris"


async def run(model: CachedModel, prompt: str = PROMPT) -> Any:
    result = await Runner.run(weather_agent(), prompt, run_config=RunConfig(model=model))
    await model.flush()
    return result


async def test_entries_spread_over_masters_and_clear_scans_them_all(
    redis_cluster_url: str,
) -> None:
    namespace = f"cluster-{uuid.uuid4().hex[:10]}"
    inner = TurnModel()
    cached = CachedModel(inner, store=redis_cluster_url, namespace=namespace)
    for city in range(8):
        await run(cached, f"{PROMPT} ({city})")
    second = CachedModel(TurnModel(), store=redis_cluster_url, namespace=namespace)
    again = await run(second, f"{PROMPT} (3)")
    assert again.final_output == ANSWER and second.stats().hits == 3

    store = cached.store
    assert isinstance(store, RedisStore) and isinstance(store.client, RedisCluster)
    client = store.client
    owners = set()
    for call in list(cached.recent_calls):
        slot = await client.cluster_keyslot(store.key_name(call.key))
        lock_slot = await client.cluster_keyslot(store.lock_name(call.key))
        assert slot == lock_slot  # the hash tag keeps an entry and its lock together
        owners.add(client.get_node_from_key(store.key_name(call.key)).name)
    assert len(owners) > 1  # really spread over several masters
    assert await store.size(namespace) == 24
    assert await cached.clear(namespace) == 24
    assert await store.size(namespace) == 0
    for model in (cached, second):
        await model.close()


@pytest.fixture
def failover_cluster(redis_server_module: ModuleType) -> Iterator[list[Any]]:
    nodes = redis_server_module.start_cluster(3, 1)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.close()


async def test_killed_master_fails_open_and_hits_resume_after_failover(
    failover_cluster: list[Any],
) -> None:
    url = f"redis+cluster://127.0.0.1:{failover_cluster[0].port}"
    inner = TurnModel()
    cached = CachedModel(
        inner, store=url, namespace="failover", store_timeout=0.5,
        circuit=CircuitBreaker(max_probe=0.3),
    )  # fmt: skip
    await run(cached)
    store = cached.store
    assert isinstance(store, RedisStore) and isinstance(store.client, RedisCluster)
    first: CacheKey = cached.recent_calls[0].key
    owner = store.client.get_node_from_key(store.key_name(first))
    victim = next(n for n in failover_cluster if n.port == owner.port)
    victim.stop()  # SIGKILL the master that holds the first turn's entry

    failures, deadline, resumed = 0, time.monotonic() + 60, False
    while time.monotonic() < deadline:  # a hang guard, not a timing claim
        before = len(inner.calls)
        try:
            result = await run(cached)
            assert result.final_output == ANSWER
        except Exception:
            failures += 1
        if len(inner.calls) == before:  # every turn answered from the cache again
            resumed = True
            break
        await asyncio.sleep(0.2)
    assert failures == 0
    assert resumed, cached.stats()
    stats = cached.stats()
    assert sum(stats.errors.values()) > 0  # the outage was seen, counted, and survived
    assert await store.get(first) is not None  # the promoted replica kept the entry
    await cached.close()
