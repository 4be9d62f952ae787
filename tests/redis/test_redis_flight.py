"""Cross-process single-flight: 4 processes x 25 concurrent identical runs, one call per turn."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from agents import RunConfig, Runner
from redis.asyncio import Redis

from agentcache import CachedModel
from tests.support import TurnModel, weather_agent

ROOT = Path(__file__).parents[2]
PROMPT = "What's the weather in Paris in Fahrenheit?"
ANSWER = "Sunny, 69.8F in Paris"
HANG_GUARD = 120  # seconds; turns a hang into a failure, not a performance claim


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c = Redis.from_url(redis_url)
    yield c
    await c.aclose()


async def test_four_processes_make_one_inner_call_per_turn(redis_url: str, client: Redis) -> None:
    namespace = f"flight-{uuid.uuid4().hex[:10]}"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.redis.flight_worker",
            redis_url,
            namespace,
            "--processes",
            "4",
            "--runs",
            "25",
            "--latency",
            "0.3",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), HANG_GUARD)
    assert [p.returncode for p in procs] == [0] * 4, [err.decode()[-2000:] for _, err in outs]
    reports: list[dict[str, Any]] = [json.loads(out.splitlines()[-1]) for out, _ in outs]

    assert all(r["outputs"] == [ANSWER] * 25 for r in reports)
    calls = [int(await client.get(f"{namespace}:calls:{turn}") or 0) for turn in range(3)]
    assert calls == [1, 1, 1], reports
    assert sum(r["inner_calls"] for r in reports) == 3
    layers: dict[str, int] = {}
    for r in reports:
        for layer, n in r["hits_by_layer"].items():
            layers[layer] = layers.get(layer, 0) + n
    assert sum(layers.values()) == 4 * 25 * 3 - 3
    assert layers.get("redis_flight", 0) > 0  # some processes waited on another's call
    assert all(not r["errors"] for r in reports), reports
    keys = [k async for k in client.scan_iter(match=f"agentcache:{namespace}:*")]
    assert len(keys) == 3  # three entries, and every lock was released
    await client.unlink(*keys)


async def test_a_lock_held_by_a_dead_process_expires_and_a_waiter_calls_the_model(
    redis_url: str, client: Redis
) -> None:
    namespace = f"flight-dead-{uuid.uuid4().hex[:10]}"
    inner = TurnModel()
    options = {"redis_flight_lock_ttl": 0.5, "redis_flight_poll": 0.01}
    cached = CachedModel(inner, store=redis_url, namespace=namespace, options=options)
    # A leader that crashed mid-call: its lock on the first turn's key stays until it expires.
    first_call = await _first_turn_key(cached)
    store = cached.store
    assert await store.try_lock(first_call, "dead-process", 0.5)  # type: ignore[attr-defined]
    result = await asyncio.wait_for(
        Runner.run(weather_agent(), PROMPT, run_config=RunConfig(model=cached)), HANG_GUARD
    )
    await cached.flush()
    assert result.final_output == ANSWER and len(inner.calls) == 3
    assert await client.exists(store.lock_name(first_call)) == 0  # type: ignore[attr-defined]
    await cached.clear(namespace)
    await cached.close()


async def test_waiter_gives_up_after_its_bounded_wait(redis_url: str) -> None:
    namespace = f"flight-wait-{uuid.uuid4().hex[:10]}"
    inner = TurnModel()
    options = {"redis_flight_lock_ttl": 60, "redis_flight_wait": 0.2}
    cached = CachedModel(inner, store=redis_url, namespace=namespace, options=options)
    first_call = await _first_turn_key(cached)
    store: Any = cached.store
    assert await store.try_lock(first_call, "a-slow-leader", 60)
    result = await asyncio.wait_for(
        Runner.run(weather_agent(), PROMPT, run_config=RunConfig(model=cached)), HANG_GUARD
    )
    assert result.final_output == ANSWER and len(inner.calls) == 3
    assert await store.unlock(first_call, "a-slow-leader")  # the slow leader's lock was kept
    await cached.clear(namespace)
    await cached.close()


async def _first_turn_key(cached: CachedModel) -> Any:
    """The key of the run's first model call, found with a throwaway uncached model."""
    probe = CachedModel(TurnModel(), namespace=cached.config.namespace)
    await Runner.run(weather_agent(), PROMPT, run_config=RunConfig(model=probe))
    return probe.recent_calls[0].key
