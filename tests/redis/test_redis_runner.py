"""A Redis store seen through the real ``Runner.run``: shared hits, signing, garbage."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agentcache_redis import RedisStore
from agents import RunConfig, Runner
from redis.asyncio import Redis

import agentcache
from agentcache import CachedModel, SignedStore
from tests.support import TurnModel, weather_agent

PROMPT = "What's the weather in Paris in Fahrenheit?"
ANSWER = "Sunny, 69.8F in Paris"


async def run(model: CachedModel) -> Any:
    result = await Runner.run(weather_agent(), PROMPT, run_config=RunConfig(model=model))
    await model.flush()
    return result


@pytest.fixture
def namespace() -> str:
    return f"runner-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c = Redis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_runs_in_two_models_share_entries(redis_url: str, namespace: str) -> None:
    first_inner, second_inner = TurnModel(), TurnModel()
    first = CachedModel(first_inner, store=redis_url, namespace=namespace)
    result = await run(first)
    assert result.final_output == ANSWER and len(first_inner.calls) == 3
    assert first.stats().stores == 3 and await first.store.size(namespace) == 3

    # Another model (as in another process) with its own client: every turn is a hit.
    second = CachedModel(second_inner, store=redis_url, namespace=namespace)
    again = await run(second)
    assert again.final_output == ANSWER and second_inner.calls == []
    assert [type(a.raw_item) for a in again.new_items] == [
        type(a.raw_item) for a in result.new_items
    ]
    stats = second.stats()
    assert (stats.hits, stats.misses, stats.hits_by_layer) == (3, 0, {"exact": 3})
    assert await second.clear(namespace) == 3
    for model in (first, second):
        await model.close()


async def test_a_corrupted_value_is_a_miss_and_is_removed(
    redis_url: str, namespace: str, client: Redis
) -> None:
    inner = TurnModel()
    cached = CachedModel(inner, store=redis_url, namespace=namespace)
    await run(cached)
    store = cached.store
    assert isinstance(store, RedisStore)
    names = [n async for n in client.scan_iter(match=f"agentcache:{namespace}:*")]
    assert len(names) == 3
    for name in names:
        await client.set(name, b"\xde\xad\xbe\xef garbage")
    with agentcache.no_store():  # so that what is left in Redis shows the removal
        result = await run(cached)
    assert result.final_output == ANSWER and len(inner.calls) == 6  # all three turns re-asked
    stats = cached.stats()
    assert stats.errors.get("corrupt_value") == 3 and stats.hits == 0
    assert await client.exists(*names) == 0
    await cached.clear(namespace)
    await cached.close()


async def test_a_tampered_signed_value_is_never_served(
    redis_url: str, namespace: str, client: Redis
) -> None:
    secret = "a shared secret of enough length"
    redis_store = RedisStore(Redis.from_url(redis_url), owns_client=True)
    inner = TurnModel()
    cached = CachedModel(inner, store=SignedStore(redis_store, secret), namespace=namespace)
    await run(cached)
    names = [n async for n in client.scan_iter(match=f"agentcache:{namespace}:*")]
    values = {n: await client.get(n) or b"" for n in names}
    # Swap the final answer for another: what is left is a valid, readable entry.
    final = [n for n, v in values.items() if b"Sunny" in v]
    assert len(final) == 1, "the final answer is stored uncompressed (under the threshold)"
    await client.set(final[0], values[final[0]].replace(b"Sunny", b"Rainy"))

    result = await run(cached)
    assert result.final_output == ANSWER  # from the model, not the tampered entry
    stats = cached.stats()
    assert stats.errors.get("bad_signature") == 1 and stats.hits == 2 and len(inner.calls) == 4
    assert b"Rainy" not in (await client.get(final[0]) or b"")  # removed, then stored afresh

    # Unsigned data (written without the secret) is not served either.
    unsigned = CachedModel(TurnModel(), store=redis_url, namespace=namespace)
    await unsigned.clear(namespace)
    await run(unsigned)
    before = len(inner.calls)
    await run(cached)
    assert len(inner.calls) == before + 3
    assert cached.stats().errors["bad_signature"] == 4
    await cached.clear(namespace)
    for model in (cached, unsigned):
        await model.close()


async def test_streamed_runs_share_redis_entries_with_unary_runs(
    redis_url: str, namespace: str
) -> None:
    """A streamed miss in one model is a replayed streamed hit, and a unary hit, in others."""

    async def streamed(model: CachedModel) -> tuple[Any, list[str]]:
        result = Runner.run_streamed(weather_agent(), PROMPT, run_config=RunConfig(model=model))
        names = [e.name async for e in result.stream_events() if e.type == "run_item_stream_event"]
        await model.flush()
        return result, names

    live_inner, replay_inner, unary_inner = TurnModel(), TurnModel(), TurnModel()
    live = CachedModel(live_inner, store=redis_url, namespace=namespace)
    first, live_names = await streamed(live)
    assert len(live_inner.calls) == 3 and all(c["streamed"] for c in live_inner.calls)
    assert live.stats().stores == 3

    replaying = CachedModel(replay_inner, store=redis_url, namespace=namespace)
    second, replay_names = await streamed(replaying)
    assert replay_inner.calls == [] and replaying.stats().hits == 3
    assert second.final_output == first.final_output == ANSWER
    assert replay_names == live_names and "tool_called" in replay_names

    unary = CachedModel(unary_inner, store=redis_url, namespace=namespace)
    assert (await run(unary)).final_output == ANSWER and unary_inner.calls == []
    for model in (live, replaying, unary):
        await model.close()
