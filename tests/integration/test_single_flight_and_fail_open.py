"""Concurrency (single-flight) and fail-open behaviour, through the real Runner."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from agents import RunConfig, Runner

from agentcache import CachedModel, CacheKey, MemoryStore
from tests.support import TurnModel, weather_agent

PROMPT = "What's the weather in Paris in Fahrenheit?"
HANG_GUARD = 30  # seconds; only to turn a hang into a failure, never a performance claim


async def runs(cached: CachedModel, n: int) -> list[Any]:
    agent = weather_agent()
    tasks = [Runner.run(agent, PROMPT, run_config=RunConfig(model=cached)) for _ in range(n)]
    return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), HANG_GUARD)


async def test_fifty_concurrent_runs_make_one_inner_call_per_turn() -> None:
    inner = TurnModel(latency=0.02)
    cached = CachedModel(inner)
    results = await runs(cached, 50)
    assert all(r.final_output == "Sunny, 69.8F in Paris" for r in results)
    assert len(inner.calls) == 3
    stats = cached.stats()
    assert stats.misses == 3 and stats.hits == 147
    assert stats.hits_by_layer.get("coalesced", 0) > 0
    # every run got its own objects: mutating one run's items cannot leak into another
    items = [r.new_items[0].raw_item for r in results]
    assert len({id(i) for i in items}) == 50


async def test_failed_leader_does_not_leave_followers_hanging() -> None:
    inner = TurnModel(latency=0.02, fail_first=1)
    cached = CachedModel(inner)
    results = await runs(cached, 20)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and "upstream failure" in str(failures[0])
    assert all(r.final_output == "Sunny, 69.8F in Paris" for r in results if r not in failures)


async def test_cancelled_leader_does_not_cancel_followers() -> None:
    inner = TurnModel(latency=0.05)
    cached = CachedModel(inner)
    agent = weather_agent()
    leader = asyncio.create_task(Runner.run(agent, PROMPT, run_config=RunConfig(model=cached)))
    await asyncio.sleep(0.01)
    followers = [Runner.run(agent, PROMPT, run_config=RunConfig(model=cached)) for _ in range(5)]
    follower_tasks = asyncio.gather(*followers)
    await asyncio.sleep(0.01)
    leader.cancel()
    results = await asyncio.wait_for(follower_tasks, HANG_GUARD)
    assert [r.final_output for r in results] == ["Sunny, 69.8F in Paris"] * 5
    with pytest.raises(asyncio.CancelledError):
        await leader


class BrokenStore(MemoryStore):
    in_process = False  # it does wait (or fail), unlike the memory store it extends

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay, self.calls = delay, 0

    async def get(self, key: CacheKey) -> bytes | None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
            return None
        raise ConnectionError("store is down")

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        self.calls += 1
        raise ConnectionError("store is down")


async def test_store_errors_fail_open_with_bounded_logging(caplog: Any) -> None:
    inner = TurnModel()
    store = BrokenStore()
    cached = CachedModel(inner, store=store)
    with caplog.at_level(logging.WARNING, logger="agentcache"):
        results = await runs(cached, 10)
        await cached.flush()
    assert all(r.final_output == "Sunny, 69.8F in Paris" for r in results)
    stats = cached.stats()
    assert stats.errors.get("store_error", 0) >= 5
    assert stats.errors.get("store_circuit_open", 0) > 0  # the breaker stopped hammering it
    assert store.calls < 60  # 10 runs x 3 turns x (get + set) without the breaker
    ours = [r for r in caplog.records if r.name.startswith("agentcache")]
    assert len(ours) <= 2  # one line per kind per interval, not one per call


async def test_slow_store_is_bounded_by_the_time_budget() -> None:
    inner = TurnModel()
    cached = CachedModel(inner, store=BrokenStore(delay=5.0), store_timeout=0.05)
    result = await asyncio.wait_for(
        Runner.run(weather_agent(), PROMPT, run_config=RunConfig(model=cached)), HANG_GUARD
    )
    assert result.final_output == "Sunny, 69.8F in Paris"
    assert cached.stats().errors.get("store_timeout", 0) >= 1


async def test_circuit_breaker_probes_again_after_cooldown() -> None:
    from agentcache import GuardedStore, Stats

    now = [0.0]
    store = BrokenStore()
    guarded = GuardedStore(store, Stats(), failure_threshold=2, cooldown=10, clock=lambda: now[0])
    key = CacheKey("default", "ab")
    for _ in range(5):
        assert await guarded.get(key) is None
    assert store.calls == 2 and guarded.circuit_open
    now[0] = 11
    await guarded.get(key)
    assert store.calls == 3  # one probe, which failed: open again at once
    assert guarded.circuit_open
