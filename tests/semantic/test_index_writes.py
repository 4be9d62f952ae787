"""Indexing an answer's prompt: off the caller's path, not lost to this process's own load, and
in one round trip on Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from agentcache_semantic import SemanticConfig
from agentcache_semantic.redis_index import RedisVLIndex
from redis.asyncio import Redis

from agentcache import CachedModel
from tests.semantic.test_semantic_runner import EMBED, EchoModel, ask

PROMPT = "What is the capital of Australia?"
PARAPHRASE = "What's the capital city of Australia?"


class SlowFirst:
    """The stage's index, whose first ``add`` (or ``search``) hangs; with ``block_loop`` the
    event loop is also held (as a burst of work on a busy process holds it) while it waits."""

    def __init__(self, index: Any, block_loop: float | None, method: str = "add") -> None:
        self.index, self.block_loop, self.method, self.calls = index, block_loop, method, 0

    async def _slow_the_first(self, method: str, *args: Any) -> Any:
        if method == self.method:
            self.calls += 1
            if self.calls == 1:
                if self.block_loop is not None:
                    asyncio.get_running_loop().call_later(0.01, time.sleep, self.block_loop)
                await asyncio.sleep(5)
        return await getattr(self.index, method)(*args)

    async def add(self, *args: Any) -> None:
        await self._slow_the_first("add", *args)

    async def search(self, *args: Any) -> Any:
        return await self._slow_the_first("search", *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


def cached_with(
    block_loop: float | None, method: str = "add"
) -> tuple[CachedModel, EchoModel, SlowFirst]:
    inner = EchoModel()
    cached = CachedModel(inner, store_timeout=0.1, semantic=SemanticConfig(vectorizer=EMBED.embed))
    stage: Any = next(s for s in cached.stages if s.name == "semantic")
    slow = stage.index = SlowFirst(stage.index, block_loop, method)
    return cached, inner, slow


async def test_an_index_write_lost_to_loop_lag_is_tried_again() -> None:
    cached, inner, slow = cached_with(block_loop=0.3)
    answer = await ask(cached, PROMPT)
    assert slow.calls == 2
    errors = cached.stats().errors  # (a first search may also exceed the 0.1 s budget)
    assert errors.get("semantic_index_loop_lag") == 1 and "semantic_index" not in errors, errors
    assert await ask(cached, PARAPHRASE) == answer and inner.calls == 1  # it was indexed


async def test_an_index_write_that_times_out_on_time_is_an_error_and_not_retried() -> None:
    cached, inner, slow = cached_with(block_loop=None)
    await ask(cached, PROMPT)
    assert slow.calls == 1
    errors = cached.stats().errors
    assert errors.get("semantic_index") == 1 and "semantic_index_loop_lag" not in errors, errors
    await ask(cached, PARAPHRASE)
    assert inner.calls == 2  # not indexed: a near-duplicate misses


async def test_a_search_lost_to_loop_lag_is_a_miss_counted_apart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cached, inner, slow = cached_with(block_loop=0.3, method="search")
    await cached.warmup()
    first = await ask(cached, PROMPT)  # the search that hangs: a miss
    errors = cached.stats().errors
    assert errors.get("semantic_loop_lag") == 1 and "semantic" not in errors, errors
    assert "semantic lookup failed" not in caplog.text
    assert await ask(cached, PARAPHRASE) == first and inner.calls == 1  # the next one hits
    assert slow.calls == 2


async def test_a_search_that_times_out_on_time_is_an_error() -> None:
    cached, inner, slow = cached_with(block_loop=None, method="search")
    await cached.warmup()
    await ask(cached, PROMPT)
    errors = cached.stats().errors
    assert errors.get("semantic") == 1 and "semantic_loop_lag" not in errors, errors
    assert slow.calls == 1 and inner.calls == 1


async def test_a_redis_index_write_is_one_transaction_with_its_expiry(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    index = RedisVLIndex(client, name=f"idx-{uuid.uuid4().hex[:8]}", prefix=uuid.uuid4().hex)
    vector = await EMBED.embed(PROMPT)
    await index.add("ns", "ctx", vector, PROMPT, "a" * 64, None)  # creates the search index

    async def calls() -> dict[str, int]:
        stats = await client.info("commandstats")
        return {c: stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("multi", "pexpire")}

    before = await calls()
    await index.add("ns", "ctx", vector, PROMPT, "b" * 64, 60.0)
    after = await calls()
    assert after == {"multi": before["multi"] + 1, "pexpire": before["pexpire"] + 1}
    key = index._key("ns", "b" * 64)
    assert 0 < await client.pttl(key) <= 60_000
    assert await client.pttl(index._key("ns", "a" * 64)) == -1  # no ttl: kept
    assert (await client.hget(key, "prompt")) == PROMPT.encode()
    found = await index.search("ns", "ctx", await EMBED.embed(PARAPHRASE), 3, 0.8)
    assert {c.digest for c in found} == {"a" * 64, "b" * 64}
    await index.clear("ns")
    await client.aclose()
