"""A thousand concurrent runs on one Redis: the cache must not make itself sick.

10 tenants x 5 prompts x 20 runs each, two turns per run, all at once, against the session's
Redis with its default connection pool. Ideal: one model call per (tenant, prompt, turn), 100
in all. Identical lookups in flight share one GET (``GuardedStore``) and identical misses one
model call (single-flight), so the pool is not flooded with a thousand GETs that time out and
open the circuit breaker on load the cache made itself.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from agents import RunConfig, Runner
from agents.testing import assistant_message, function_call

import agentcache
from agentcache import CachedModel
from tests.support import TurnModel, weather_agent

TENANTS, PROMPTS, RUNS_EACH = 10, 5, 20


def two_turns() -> TurnModel:
    return TurnModel(
        [
            lambda ids: [function_call("get_weather", {"city": "Paris"}, call_id=f"call_{ids}")],
            lambda ids: [assistant_message("Sunny in Paris", item_id=f"msg_{ids}")],
        ],
        latency=0.2,
    )


async def test_a_thousand_concurrent_runs_make_the_ideal_number_of_model_calls(
    redis_url: str,
) -> None:
    inner = two_turns()
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    cached = CachedModel(inner, store=f"{redis_url}?prefix={prefix}")
    agent = weather_agent()

    async def one(tenant: int, prompt: int) -> Any:
        with agentcache.namespace(f"tenant-{tenant}"):
            config = RunConfig(model=cached)
            return await Runner.run(agent, f"Weather, question {prompt}?", run_config=config)

    runs = [one(t, p) for t in range(TENANTS) for p in range(PROMPTS) for _ in range(RUNS_EACH)]
    results = await asyncio.wait_for(asyncio.gather(*runs), 120)  # a hang guard only
    assert all(r.final_output == "Sunny in Paris" for r in results)
    stats = cached.stats()
    assert len(inner.calls) == TENANTS * PROMPTS * 2, stats
    assert stats.hits == len(runs) * 2 - len(inner.calls)
    # The circuit never opened on the load the cache and the runs made themselves (the loop
    # lags by seconds here: lookups may run out of budget, a miss that single-flight absorbs).
    assert "store_circuit_open" not in stats.errors, stats.errors
    await cached.close()
