"""What "nothing lost at exit" costs the caller: ``Runner.run`` waits for its run's writes.

A cached model writes each answer in the background, off the caller's path; the Runner's
end-of-run hook (``_cleanup_on_run_end``) then waits for the writes its run started, so an
entry is in the store when ``Runner.run`` returns. This measures that wait, on the store where
it is largest: Redis on loopback, which the benchmark starts itself (scripts/redis_server.py).

    .venv/bin/python benchmarks/bench_run_end.py            # full run
    .venv/bin/python benchmarks/bench_run_end.py --quick    # CI smoke run

Every run asks a new question (a miss, so there is a write to wait for) of an instant model,
through ``Runner.run``, one and three turns; variants interleaved round by round:

* ``uncached`` - the inner model alone: the baseline.
* ``cached, run waits for its writes`` - ``CachedModel`` as shipped.
* ``cached, writes left pending`` - the same with the end-of-run wait removed (what the cache
  did before): the difference to the line above is the whole cost of the guarantee.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agents import Agent, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.usage import Usage
from bench_redis import redis_server_module

from agentcache import CachedModel

ROOT = Path(__file__).resolve().parents[1]


@function_tool
def lookup(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Instant(Model):
    """Answers at once: turns - 1 tool calls, then a text."""

    def __init__(self, turns: int) -> None:
        self.turns = turns

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        given = kwargs["input"] if "input" in kwargs else args[1]
        items = given if isinstance(given, list) else []
        done = sum(
            1 for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        )
        uid = uuid.uuid4().hex
        output = (
            [function_call("lookup", {"city": "Paris"}, call_id=f"call_{uid}")]
            if done < self.turns - 1
            else [assistant_message("Sunny.", item_id=f"msg_{uid}")]
        )
        return ModelResponse(output=output, usage=Usage(), response_id=f"resp_{uid}")

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class PendingWrites(CachedModel):
    """The cache without the end-of-run wait: its writes may land after ``Runner.run``."""

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.model._cleanup_on_run_end(owner)


async def measure(url: str, turns: int, rounds: int) -> dict[str, list[float]]:
    agent = Agent(name="bench", instructions="Answer briefly.", tools=[lookup])
    prefix = f"bench-end-{uuid.uuid4().hex[:6]}"
    models: dict[str, Model] = {
        "uncached": Instant(turns),
        "cached, run waits for its writes": CachedModel(
            Instant(turns), store=f"{url}?prefix={prefix}"
        ),
        "cached, writes left pending": PendingWrites(
            Instant(turns), store=f"{url}?prefix={prefix}"
        ),
    }
    counter = itertools.count()

    def runner(model: Model) -> Callable[[], Awaitable[object]]:
        return lambda: Runner.run(
            agent, f"question {next(counter)}", run_config=RunConfig(model=model)
        )

    samples: dict[str, list[float]] = {name: [] for name in models}
    variants = list(models.items())
    for r in range(rounds):
        for j in range(len(variants)):
            name, model = variants[(r + j) % len(variants)]
            started = time.perf_counter()
            await runner(model)()
            samples[name].append((time.perf_counter() - started) * 1e6)
        if r % 50 == 0:
            await asyncio.sleep(0.01)  # let stray writes of the pending variant land
    for model in models.values():
        if isinstance(model, CachedModel):
            await model.close()
    return samples


def report(turns: int, samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["uncached"])
    print(f"\nRunner.run, {turns} turn(s), a miss every run, Redis on loopback")
    for name, values in samples.items():
        values = sorted(values)
        p50, p99 = statistics.median(values), values[int(len(values) * 0.99) - 1]
        print(f"  {name:<36} p50 {p50:9.1f} us   p99 {p99:9.1f} us   {p50 / base:5.2f}x uncached")
    waits = statistics.median(samples["cached, run waits for its writes"])
    pending = statistics.median(samples["cached, writes left pending"])
    print(f"  the end-of-run wait costs {waits - pending:+.1f} us at p50 ({waits / pending:.3f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    set_tracing_disabled(True)
    rounds = 30 if args.quick else 600
    with redis_server_module().RedisServer(modules=False) as server:
        for turns in (1, 3):
            print(f"measuring {turns} turn(s), {rounds} rounds...", file=sys.stderr, flush=True)
            report(turns, asyncio.run(measure(server.url, turns, rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
