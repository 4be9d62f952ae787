"""Concurrency (single-flight) and fail-open behaviour, through the real Runner."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from agents import ModelSettings, RunConfig, Runner
from agents.models.interface import ModelTracing

import agentcache
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
        self.delay, self.calls, self.down = delay, 0, True

    async def get(self, key: CacheKey) -> bytes | None:
        self.calls += 1
        if not self.down:
            return await super().get(key)
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


async def test_circuit_breaker_probes_with_backoff_and_closes_when_the_store_answers() -> None:
    from agentcache import CircuitBreaker, GuardedStore, Stats

    now = [0.0]
    store = BrokenStore()
    circuit = CircuitBreaker(threshold=2, first_probe=0.1, max_probe=0.4)
    guarded = GuardedStore(store, Stats(), circuit=circuit, clock=lambda: now[0])
    key = CacheKey("default", "ab")
    for _ in range(5):
        assert await guarded.get(key) is None
    assert store.calls == 2 and guarded.circuit_open  # opened after two failures
    probes = []
    for t in (0.05, 0.1, 0.25, 0.31, 0.65, 0.72, 1.05, 1.13, 1.5):  # 0.1, 0.2, 0.4, 0.4 apart
        now[0] = t
        before = store.calls
        await guarded.get(key)
        probes += [t] if store.calls > before else []
    assert probes == [0.1, 0.31, 0.72, 1.13]
    store.down = False  # the store is back: the next probe closes the circuit
    now[0] = 1.9
    await guarded.get(key)
    assert not guarded.circuit_open
    await guarded.get(key)
    await guarded.get(key)
    assert store.calls == 9  # every call reaches the store again


async def test_identical_lookups_in_flight_share_one_store_call() -> None:
    from agentcache import GuardedStore, Stats

    store = BrokenStore(delay=0.05)
    guarded = GuardedStore(store, Stats(), timeout=1.0)
    results = await asyncio.gather(*(guarded.get(CacheKey("default", "ab")) for _ in range(50)))
    assert results == [None] * 50 and store.calls == 1


async def test_only_one_call_probes_a_hung_store_at_a_time() -> None:
    from agentcache import CircuitBreaker, GuardedStore, Stats

    store = BrokenStore(delay=0.2)
    stats = Stats()
    guarded = GuardedStore(store, stats, timeout=0.1, circuit=CircuitBreaker(threshold=1))
    key = CacheKey("default", "ab")
    await guarded.get(key)  # times out: open
    await asyncio.sleep(0.15)  # past the first probe interval
    keys = [CacheKey("default", f"{i:02x}") for i in range(20)]  # distinct: not shared lookups
    await asyncio.gather(*(guarded.get(k) for k in keys))
    assert store.calls == 2  # the first failure and one probe; 19 calls did not wait on it
    assert stats.snapshot().errors == {"store_timeout": 2, "store_circuit_open": 19}


async def test_a_call_delayed_after_its_lookup_is_served_by_a_flight_that_landed_meanwhile() -> (
    None
):
    """A stage between the exact lookup and single-flight (the semantic lookup, waiting for an
    embedding) can hold a call until another call's flight has landed: the entry is then in
    the store, and the late call must be served from it, not lead a second model call."""
    landed = asyncio.Event()
    entered: list[int] = []

    class Slow:
        name, order = "slow_lookup", 300  # after the exact lookup, before single-flight

        async def handle(self, call: Any, call_next: Any) -> Any:
            entered.append(1)
            if len(entered) > 1:  # the second call waits until the first one's entry is stored
                await landed.wait()
            return await call_next(call)

    class Plugin:
        @agentcache.hookimpl
        def agentcache_stages(self, context: agentcache.StageContext) -> list[Any]:
            return [Slow()]

    plugins = agentcache.Plugins(load_entry_points=False)
    plugins.register(Plugin(), name="slow")
    inner = TurnModel(latency=0.02)
    cached = CachedModel(inner, plugins=plugins)
    args = (
        "Answer.",
        "What's the weather in Paris?",
        ModelSettings(),
        [],
        None,
        [],
        ModelTracing.DISABLED,
    )

    async def first() -> Any:
        response = await cached.get_response(*args)
        await cached.flush()
        landed.set()
        return response

    a, b = await asyncio.wait_for(asyncio.gather(first(), cached.get_response(*args)), HANG_GUARD)
    assert len(inner.calls) == 1
    assert b.output == a.output
    assert cached.stats().hits_by_layer == {"exact": 1}
