"""Streamed hits vs live streams: time to the first event and to the end of the stream.

One process, one run, variants interleaved round by round (order rotated every round), every
baseline measured in the same run. The answer is a realistic turn: a 600-character text reply.

    .venv/bin/python benchmarks/bench_stream.py            # full run
    .venv/bin/python benchmarks/bench_stream.py --quick    # CI smoke run (a few seconds)

Variants, each timed from calling ``stream_response`` (or ``Runner.run_streamed``) to the first
event and to the last:

* ``live: SDK ScriptedModel`` - the SDK's scripted model streaming the answer with no latency:
  the baseline the goal refers to. Goal: p50 first event of a hit <= the live one.
* ``floor: pre-built events`` - a model that yields an already built event list; the fastest a
  stream can possibly be, for scale (no real model is this fast).
* ``hit: CachedModel`` - the same call answered by an exact memory hit, replayed as events with
  the default 32-character text deltas (19 deltas for this answer).
* ``hit: one delta`` - the same hit with ``stream_chunk_chars=4096``: one text delta, as the
  scripted model sends. The Runner handles every delta event (queue, stream event object, the
  consumer's loop), so this is the like-for-like comparison with the live line; the difference
  between the two hit lines is the price of chunking, which a real provider pays too (it sends
  roughly one delta per token).

The same three through ``Runner.run_streamed`` show what a user of the SDK sees.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agents import Agent, RunConfig, Runner, set_tracing_disabled
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model, ModelTracing
from agents.testing import ModelStep, ScriptedModel, assistant_message
from agents.usage import Usage

from agentcache import CachedModel

TEXT = ("Canberra is the capital of Australia; it was purpose-built as a compromise. " * 8)[:600]
ANSWER = [assistant_message(TEXT, item_id="msg_1")]
USAGE = Usage(requests=1, input_tokens=40, output_tokens=150, total_tokens=190)
AGENT = Agent(name="bench", instructions="Answer briefly.")
ARGS: tuple[Any, ...] = (AGENT.instructions, "capital?", AGENT.model_settings, [], None, [])


class FreshScripted(Model):
    """The SDK's ScriptedModel, a fresh one per call (it consumes its steps)."""

    def __init__(self) -> None:
        self.model = "scripted"

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await ScriptedModel([ModelStep(output=ANSWER, usage=USAGE)]).get_response(
            *args, **kwargs
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return ScriptedModel([ModelStep(output=ANSWER, usage=USAGE)]).stream_response(
            *args, **kwargs
        )


class Prebuilt(Model):
    """Yields the same, already built events every time."""

    def __init__(self, events: list[TResponseStreamEvent]) -> None:
        self.events = events

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        raise NotImplementedError

    async def stream_response(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[TResponseStreamEvent]:
        for event in self.events:
            yield event


def model_call(model: Model) -> AsyncIterator[TResponseStreamEvent]:
    return model.stream_response(
        *ARGS,
        ModelTracing.DISABLED,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    )


async def time_model(model: Model) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    async for _ in model_call(model):
        if not first:
            first = time.perf_counter() - started
    return first, time.perf_counter() - started


async def time_runner(model: Model) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    result = Runner.run_streamed(AGENT, "capital?", run_config=RunConfig(model=model))
    async for event in result.stream_events():
        if not first and event.type == "raw_response_event":
            first = time.perf_counter() - started
    assert result.final_output == TEXT
    return first, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


async def measure(
    variants: dict[str, Callable[[], Awaitable[tuple[float, float]]]], rounds: int
) -> dict[str, tuple[list[float], list[float]]]:
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in variants}
    names = list(variants)
    for r in range(rounds):
        if r % max(1, rounds // 10) == 0:
            print(f"  round {r}/{rounds}", file=sys.stderr)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            first, total = await variants[name]()
            times[name][0].append(first)
            times[name][1].append(total)
    return times


def report(title: str, times: dict[str, tuple[list[float], list[float]]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'variant':32} {'first p50':>10} {'first p99':>10} {'end p50':>10} {'end p99':>10} us"
    )
    for name, (first, total) in times.items():
        print(
            f"  {name:32} {pct(first, 0.5):10.0f} {pct(first, 0.99):10.0f}"
            f" {pct(total, 0.5):10.0f} {pct(total, 0.99):10.0f}"
        )
    live = times["live: SDK ScriptedModel"]
    for name in ("hit: CachedModel", "hit: one delta"):
        hit = times[name]
        ratio_first = pct(hit[0], 0.5) / pct(live[0], 0.5)
        ratio_end = pct(hit[1], 0.5) / pct(live[1], 0.5)
        verdict = "PASS" if ratio_first <= 1.0 else "MISS"
        print(
            f"  {name}: first event p50 / live = {ratio_first:.2f}x (goal <= 1.00x: {verdict}),"
            f" end of stream {ratio_end:.2f}x"
        )


async def main(quick: bool) -> int:
    set_tracing_disabled(True)
    rounds = 60 if quick else 600
    live = FreshScripted()
    events = [e async for e in model_call(live)]
    cached = CachedModel(FreshScripted())
    async for _ in model_call(cached):  # warm the entry (a live miss, stored)
        pass
    await cached.flush()
    await time_runner(cached)
    one_delta = CachedModel(FreshScripted(), store=cached.store, stream_chunk_chars=4096)
    base_hits, base_misses = cached.stats().hits, cached.stats().misses
    floor = Prebuilt(events)
    gc.collect()

    print(f"stream benchmark: {len(events)} events per answer, {rounds} rounds", file=sys.stderr)
    model_times = await measure(
        {
            "live: SDK ScriptedModel": lambda: time_model(live),
            "floor: pre-built events": lambda: time_model(floor),
            "hit: CachedModel": lambda: time_model(cached),
            "hit: one delta": lambda: time_model(one_delta),
        },
        rounds,
    )
    runner_times = await measure(
        {
            "live: SDK ScriptedModel": lambda: time_runner(live),
            "floor: pre-built events": lambda: time_runner(floor),
            "hit: CachedModel": lambda: time_runner(cached),
            "hit: one delta": lambda: time_runner(one_delta),
        },
        rounds,
    )
    hits = cached.stats().hits - base_hits
    if (
        hits != 2 * rounds
        or one_delta.stats().hits != 2 * rounds
        or (cached.stats().misses != base_misses or one_delta.stats().misses)
    ):
        print(f"setup broken: {hits} hits for {2 * rounds} cached streams", file=sys.stderr)
        return 1
    report("1. model.stream_response, one 600-character answer", model_times)
    report("2. Runner.run_streamed, same answer", runner_times)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run for CI")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
