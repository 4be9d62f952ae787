"""One process of the cross-process single-flight test: ``python -m tests.redis.flight_worker``.

It waits at a barrier (a Redis counter) until every process is ready, then starts its
concurrent ``Runner.run`` calls together with the others. Its inner model counts every call it
makes in Redis (``INCR {namespace}:calls:{turn}``), so the test sees the total over processes.
It prints one JSON line: how its runs went and what its cache did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from agents import RunConfig, Runner, set_tracing_disabled
from agents.items import ModelResponse
from redis.asyncio import Redis

from agentcache import CachedModel
from tests.support import TurnModel, weather_agent

PROMPT = "What's the weather in Paris in Fahrenheit?"


class CountingModel(TurnModel):
    def __init__(self, counter: Redis, namespace: str, latency: float) -> None:
        super().__init__(latency=latency)
        self.counter = counter
        self.namespace = namespace

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = await super().get_response(*args, **kwargs)
        turn = (response.response_id or "").split("_")[1]
        await self.counter.incr(f"{self.namespace}:calls:{turn}")
        return response


async def main(url: str, namespace: str, processes: int, runs: int, latency: float) -> None:
    counter = Redis.from_url(url)
    inner = CountingModel(counter, namespace, latency)
    cached = CachedModel(inner, store=url, namespace=namespace, store_timeout=1.0)
    agent = weather_agent()
    await counter.incr(f"{namespace}:barrier")
    while int(await counter.get(f"{namespace}:barrier") or 0) < processes:  # noqa: ASYNC110
        await asyncio.sleep(0.005)  # the other processes are only visible through Redis
    results = await asyncio.gather(
        *(Runner.run(agent, PROMPT, run_config=RunConfig(model=cached)) for _ in range(runs)),
        return_exceptions=True,
    )
    await cached.flush()
    stats = cached.stats()
    print(
        json.dumps(
            {
                "outputs": [
                    r.final_output if not isinstance(r, BaseException) else repr(r) for r in results
                ],
                "inner_calls": len(inner.calls),
                "hits_by_layer": dict(stats.hits_by_layer),
                "misses": stats.misses,
                "errors": dict(stats.errors),
            }
        )
    )
    await cached.close()
    await counter.aclose()


if __name__ == "__main__":
    set_tracing_disabled(True)
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("namespace")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.3)
    a = parser.parse_args()
    asyncio.run(main(a.url, a.namespace, a.processes, a.runs, a.latency))
