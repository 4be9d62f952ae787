"""A tool-heavy agent re-run: model caching alone vs model and tool caching.

One process, one run, variants interleaved round by round, every baseline measured in the same
run. The agent has three tools (``search``, ``lookup``, ``weather``) that each take
``--tool-ms`` (200 ms by default, a typical search API or database call) and a scripted model
that answers instantly in four tool turns (two with two tools in parallel) and a final answer:

    .venv/bin/python benchmarks/bench_tools.py            # full run
    .venv/bin/python benchmarks/bench_tools.py --quick    # CI smoke run (a few seconds)

Variants, each one ``Runner.run`` of the whole agent:

* ``live: no cache`` - the baseline: every model call and every tool call is live.
* ``re-run: model cache only`` - the model's answers are cache hits, the tools run for real:
  what caching model answers alone buys a tool-heavy agent (almost nothing).
* ``re-run: model + tool cache`` - both are hits: no tool runs.
* ``floor: instant tools, no cache`` - the same run with tools that take no time and no
  cache: what the Runner itself costs, to read the cached line against.

The run fails (exit 1) if a cached re-run invoked a cached tool.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from typing import Any

from agents import Agent, FunctionTool, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.usage import Usage

from agentcache import CachedModel, ToolCache

TURNS: list[list[tuple[str, str]]] = [
    [("search", '{"query": "museums in Paris"}'), ("weather", '{"city": "Paris"}')],
    [("lookup", '{"id": 42}')],
    [("search", '{"query": "cafes near the Louvre"}'), ("lookup", '{"id": 7}')],
    [("weather", '{"city": "Lyon"}')],
]
TOOL_CALLS = sum(len(t) for t in TURNS)


class Scripted(Model):
    """Answers by turn (the number of tool outputs in the input), instantly."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kw: Any
    ) -> ModelResponse:
        items = input if isinstance(input, list) else []
        outputs = sum(
            1 for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        )
        done = turn = 0
        while turn < len(TURNS) and done < outputs:
            done, turn = done + len(TURNS[turn]), turn + 1
        if turn == len(TURNS):
            output = [assistant_message("Here is your plan.", item_id="msg_final")]
        else:
            output = [
                function_call(name, args, call_id=f"call_{turn}_{i}")
                for i, (name, args) in enumerate(TURNS[turn])
            ]
        usage = Usage(requests=1, input_tokens=100, output_tokens=20, total_tokens=120)
        return ModelResponse(output=output, usage=usage, response_id=f"resp_{turn}")

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def make_tools(seconds: float, invocations: Counter[str]) -> list[FunctionTool]:
    @function_tool
    async def search(query: str) -> str:
        """Search the web."""
        invocations["search"] += 1
        await asyncio.sleep(seconds)
        return f"3 results for {query}"

    @function_tool
    async def lookup(id: int) -> dict[str, Any]:
        """Look a record up."""
        invocations["lookup"] += 1
        await asyncio.sleep(seconds)
        return {"id": id, "name": f"record {id}"}

    @function_tool
    async def weather(city: str) -> str:
        """Current weather."""
        invocations["weather"] += 1
        await asyncio.sleep(seconds)
        return f"sunny in {city}"

    return [search, lookup, weather]


async def timed(agent: Agent[Any], model: Model) -> float:
    started = time.perf_counter()
    result = await Runner.run(agent, "Plan a day in Paris", run_config=RunConfig(model=model))
    elapsed = time.perf_counter() - started
    assert result.final_output == "Here is your plan."
    return elapsed


async def main(quick: bool, tool_ms: float) -> int:
    set_tracing_disabled(True)
    rounds = 3 if quick else 15
    seconds = tool_ms / 1000
    live_calls: Counter[str] = Counter()
    cached_calls: Counter[str] = Counter()
    tools = make_tools(seconds, live_calls)
    tool_cache = ToolCache()
    cached_model = CachedModel(Scripted())
    variants = {
        "live: no cache": (Agent(name="trip", tools=tools), Scripted()),
        "re-run: model cache only": (Agent(name="trip", tools=tools), cached_model),
        "re-run: model + tool cache": (
            Agent(
                name="trip", tools=[tool_cache.wrap(t) for t in make_tools(seconds, cached_calls)]
            ),
            cached_model,
        ),
        "floor: instant tools, no cache": (
            Agent(name="trip", tools=make_tools(0.0, Counter())),
            Scripted(),
        ),
    }
    for name in ("re-run: model + tool cache", "floor: instant tools, no cache"):
        await timed(*variants[name])  # fills both caches (one model cache), warms the Runner
    cached_calls.clear()
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            agent, model = variants[name]
            times[name].append(await timed(agent, model))
    if cached_calls:
        print(f"setup broken: cached re-runs invoked tools {dict(cached_calls)}", file=sys.stderr)
        return 1
    base = statistics.median(times["live: no cache"])
    floor = statistics.median(times["floor: instant tools, no cache"])
    print(
        f"\ntool benchmark: {len(TURNS)} tool turns, {TOOL_CALLS} tool calls of {tool_ms:g} ms "
        f"each, {rounds} rounds (median wall time of one Runner.run)"
    )
    print(f"{'variant':34} {'median':>10} {'vs live':>9} {'vs floor':>9}")
    for name in names:
        median = statistics.median(times[name])
        print(f"{name:34} {median * 1000:8.1f}ms {median / base:8.3f}x {median / floor:8.2f}x")
    stats = tool_cache.stats()
    print(
        f"tool cache: {stats.tool_hits} hits, {stats.tool_misses} misses, "
        f"{stats.tool_seconds_saved:.1f} s of tool time saved"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run for CI")
    parser.add_argument("--tool-ms", type=float, default=200.0, help="time each tool call takes")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.quick, args.tool_ms)))
