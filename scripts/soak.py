#!/usr/bin/env python3
"""Soak: hundreds of concurrent agent runs through ``CachedModel`` on a real Redis, for minutes.

Unit tests show that each path works once; a soak shows what only time and concurrency show:
connections or tasks that pile up, memory that grows, an error that one run in ten thousand
meets, an entry written but not readable. It starts its own Redis 8 with the search module
(``scripts/redis_server.py``) and runs, in one process and one invocation, the same load two ways,
interleaved: a **baseline** slice on the bare scripted model (no cache, ``--baseline-slice``
seconds) at the start of every ``--cycle``, then a **cached** slice through one long-lived
``CachedModel(store=redis, semantic=...)``, until the cached slices add up to ``--duration``.
Each slice ends by letting its runs in progress finish, so no run of one mode competes with the
other's. Interleaving keeps the baseline honest on a shared machine, whose load drifts over ten
minutes; the cached model and its connections live through the whole soak.

The load: ``--concurrency`` workers, each running one agent after another. A run is a
three-turn tool agent (look up the weather, convert it, answer) on a scripted model that waits
``--model-latency`` per turn and mints random ids as a real provider does. 70% of runs repeat an
earlier prompt, 20% ask a new one (a rewording of an earlier question now and then: semantic
hits), 10% are streamed (``Runner.run_streamed``). Every answer is checked against the right one.

A line every ``--interval`` seconds, and a summary: runs/s; run latency by class (hit: no model
call, miss: every turn called the model, partial); for misses the latency added over the
baseline's, for hits their total (and how much below the baseline); per model call, what the
cache added (call time minus the model's); failed runs; ``stats().errors`` by kind; RSS, CPU,
asyncio tasks, event-loop lag and Redis connected clients over time; and at the end every
entry the cache reported stored is read back from Redis and decoded.

    .venv/bin/python scripts/soak.py                     # 200 workers, 10 minutes
    .venv/bin/python scripts/soak.py --smoke             # about 40 s, for CI
    .venv/bin/python scripts/soak.py --duration 120 --concurrency 50 --vectorizer onnx-int8
    .venv/bin/python scripts/soak.py --smoke --json soak.json

Semantic lookup is on. ``--vectorizer default`` (what ``semantic=True`` gives: the local model
on onnxruntime in float32) is the default; ``--vectorizer torch`` embeds with
sentence-transformers on torch in worker threads, which on a 2-core machine at 200 concurrent
runs starves the event loop, so store calls overrun their budget on a healthy Redis and the
breaker opens. ``--smoke`` uses ``onnx-int8`` (the same model quantized, cheaper again);
compare them with ``--vectorizer``.

Exit status: 0; 1 when a run failed or answered wrong, or an entry reported stored did not read
back intact;
2 when the setup broke. Latency numbers are of this machine under this load: read the ratios to
the baseline, and the loop lag (one event loop runs every worker: when it is saturated, every
run waits its turn for the CPU, cached or not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import gc
import hashlib
import importlib.util
import json
import logging
import math
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the embedding model ships in a package

import psutil
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import (
    ModelResponse,
    TResponseInputItem,
    TResponseOutputItem,
    TResponseStreamEvent,
)
from agents.models.interface import Model
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.usage import Usage

from agentcache import CachedModel, CacheKey
from agentcache.entry import CorruptEntry, decode
from agentcache.stores.base import Store

ROOT = Path(__file__).resolve().parents[1]
TURNS = 3  # lookup_weather, to_fahrenheit, answer


def load_script(name: str) -> ModuleType:
    """A sibling script as a module (``scripts/`` is not a package)."""
    key = f"agentcache_script_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The workload: prompts, tools, the scripted model

CITIES = (
    "Paris", "Lyon", "Berlin", "Munich", "Madrid", "Seville", "Rome", "Milan", "Vienna", "Prague",
    "Warsaw", "Krakow", "Lisbon", "Porto", "Dublin", "Cork", "Oslo", "Bergen", "Stockholm",
    "Helsinki", "Copenhagen", "Amsterdam", "Rotterdam", "Brussels", "Zurich", "Geneva",
    "Budapest", "Athens", "Istanbul", "Cairo", "Nairobi", "Lagos", "Accra", "Casablanca",
    "Tunis", "Dakar", "Tokyo", "Osaka", "Seoul", "Busan", "Beijing", "Shanghai", "Taipei",
    "Manila", "Hanoi", "Bangkok", "Jakarta", "Singapore", "Mumbai", "Delhi", "Chennai",
    "Karachi", "Dubai", "Doha", "Tehran", "Sydney", "Melbourne", "Perth", "Auckland",
    "Wellington", "Toronto", "Montreal", "Vancouver", "Chicago", "Boston", "Denver", "Seattle",
    "Miami", "Houston", "Phoenix", "Atlanta", "Detroit", "Lima", "Quito", "Bogota", "Santiago",
    "Caracas", "Havana", "Reykjavik", "Edinburgh",
)  # fmt: skip
DAYS = ("today", "tomorrow", "on Monday", "on Tuesday", "on Wednesday", "on Thursday",
        "on Friday", "on Saturday", "on Sunday")  # fmt: skip
PHRASINGS = (
    "What's the weather in {city} {day}?",
    "How is the weather in {city} {day}?",
    "What will the weather be like in {city} {day}?",
    "Can you check the weather in {city} {day}?",
    "Tell me the weather forecast for {city} {day}.",
    "Weather report for {city} {day}, please.",
)
CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "foggy", "snowy", "stormy", "clear")


class Prompts:
    """Prompt number i, for i = 0, 1, 2...: a fixed shuffle of every (city, day, phrasing), then
    the same with a reference number. Computed, not stored: the soak's own memory stays flat.
    Rewordings of one question (same city and day) are spread through the sequence, so a new
    prompt is sometimes a paraphrase of an answered one: what the semantic layer is for."""

    def __init__(self, seed: int) -> None:
        space = len(CITIES) * len(DAYS) * len(PHRASINGS)
        self._order = list(range(space))
        random.Random(seed).shuffle(self._order)
        self.issued = 0

    def text(self, i: int) -> str:
        rest, n = i % len(self._order), i // len(self._order)
        rest = self._order[rest]
        rest, p = divmod(rest, len(PHRASINGS))
        c, d = divmod(rest, len(DAYS))
        prompt = PHRASINGS[p].format(city=CITIES[c], day=DAYS[d])
        return f"{prompt} (ref {n})" if n else prompt

    def new(self) -> str:
        self.issued += 1
        return self.text(self.issued - 1)

    def earlier(self, rng: random.Random) -> str:
        return self.text(rng.randrange(self.issued)) if self.issued else self.new()


def parse(prompt: str) -> tuple[str, str]:
    city = next(c for c in CITIES if f" {c} " in prompt)
    day = next(d for d in DAYS if f"{city} {d}" in prompt)
    return city, day


def weather(city: str, day: str) -> tuple[str, int]:
    h = hashlib.sha256(f"{city}|{day}".encode()).digest()
    return CONDITIONS[h[0] % len(CONDITIONS)], h[1] % 36


def fahrenheit(celsius: float) -> str:
    return f"{celsius * 9 / 5 + 32:.1f}"


def expected_answer(prompt: str) -> str:
    city, day = parse(prompt)
    conditions, celsius = weather(city, day)
    return f"{city} {day}: {conditions}, {celsius}C ({fahrenheit(celsius)}F)"


@function_tool
def lookup_weather(city: str, day: str) -> str:
    """The forecast for a city on a day."""
    conditions, celsius = weather(city, day)
    return f"{conditions}, {celsius}C"


@function_tool
def to_fahrenheit(celsius: float) -> str:
    """Celsius to Fahrenheit."""
    return fahrenheit(celsius)


def make_agent() -> Agent[Any]:
    return Agent(
        name="weather",
        instructions="Answer weather questions with the tools.",
        tools=[lookup_weather, to_fahrenheit],
        model_settings=ModelSettings(temperature=0.2),
    )


@dataclass
class RunProbe:
    """What the inner model did for one run (shared with the tasks the run spawns)."""

    calls: int = 0
    model_seconds: float = 0.0


CURRENT_RUN: contextvars.ContextVar[RunProbe | None] = contextvars.ContextVar(
    "soak_run", default=None
)


class ScriptedWeatherModel(Model):
    """A provider stand-in: answers by turn (tool outputs already in the input), after
    ``latency`` seconds, with fresh random ids on every call as a real provider has."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.usage = Usage(requests=1, input_tokens=120, output_tokens=30, total_tokens=150)

    async def _answer(self, input: Any) -> ModelResponse:
        started = time.perf_counter()
        await asyncio.sleep(self.latency)
        items = [{"role": "user", "content": input}] if isinstance(input, str) else input
        prompt = next(i["content"] for i in items if i.get("role") == "user")
        outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
        ids = uuid.uuid4().hex
        city, day = parse(prompt)
        output: list[TResponseOutputItem]
        if not outputs:
            args = {"city": city, "day": day}
            output = [function_call("lookup_weather", args, call_id=f"call_{ids}")]
        elif len(outputs) == 1:
            celsius = float(outputs[0].rsplit(" ", 1)[1].rstrip("C"))
            output = [function_call("to_fahrenheit", {"celsius": celsius}, call_id=f"call_{ids}")]
        else:
            text = f"{city} {day}: {outputs[0]} ({outputs[1]}F)"
            output = [assistant_message(text, item_id=f"msg_{ids}")]
        probe = CURRENT_RUN.get()
        if probe is not None:
            probe.calls += 1
            probe.model_seconds += time.perf_counter() - started
        return ModelResponse(output=output, usage=self.usage, response_id=f"resp_{ids}")

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        return await self._answer(input)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        *args: Any,
        **kwargs: Any,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """The same answer as the SDK's ScriptedModel streams it, after the same latency."""
        answer = await self._answer(input)
        step = ModelStep(output=answer.output, usage=answer.usage, response_id=answer.response_id)
        events = ScriptedModel([step]).stream_response(system_instructions, input, *args, **kwargs)
        async for event in events:
            yield event


# ---------------------------------------------------------------------------------------------
# Measuring: histograms, windows, the probe around the model, the ledger around the store


class Histogram:
    """Log-bucketed (1% wide) durations: constant memory however long the soak runs."""

    STEP = math.log(1.01)

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.buckets[int(math.log(max(seconds, 1e-6) / 1e-6) / self.STEP)] += 1
        self.count += 1
        self.max = max(self.max, seconds)

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        if not self.count:
            return math.nan
        rank, seen = q * (self.count - 1), 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen > rank:
                return min(1e-6 * math.exp((bucket + 0.5) * self.STEP), self.max)
        return self.max

    def summary(self) -> dict[str, float]:
        return {"n": self.count, "p50_ms": ms(self.quantile(0.5)),
                "p99_ms": ms(self.quantile(0.99)), "max_ms": ms(self.max)}  # fmt: skip


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2) if not math.isnan(seconds) else math.nan


RUN_CLASSES = ("hit", "miss", "partial")
TURN_KINDS = ("first_turn", "tool_turn")
"""A first turn (the input ends in the user's message) is where a miss also runs the semantic
lookup; a tool turn (it ends in a tool's output) is answered by exact keys only."""


@dataclass
class Window:
    """What happened while it was open (it may open and close many times: every baseline
    slice adds to one window): runs by class, call overheads, failures, loop lag."""

    label: str
    elapsed: float = 0.0
    since: float | None = None
    cpu: float = 0.0
    """process CPU seconds while open (every thread: the embedding runs in worker threads)"""
    cpu_since: float = 0.0
    runs: int = 0
    failed: int = 0
    wrong: int = 0
    streamed: int = 0
    latency: dict[str, Histogram] = field(
        default_factory=lambda: {c: Histogram() for c in ("all", *RUN_CLASSES)}
    )
    call_overhead: dict[str, Histogram] = field(
        default_factory=lambda: {k: Histogram() for k in ("hit", "miss", *TURN_KINDS)}
    )
    """What the cache added to a model call: by outcome, and by turn (see ProbeModel)."""
    loop_lag: Histogram = field(default_factory=Histogram)

    def open(self) -> Window:
        self.since, self.cpu_since = time.monotonic(), time.process_time()
        return self

    def close(self) -> None:
        if self.since is not None:
            self.elapsed += time.monotonic() - self.since
            self.cpu += time.process_time() - self.cpu_since
            self.since = None

    @property
    def seconds(self) -> float:
        return self.elapsed + (time.monotonic() - self.since if self.since is not None else 0.0)

    def merge(self, other: Window) -> None:
        self.elapsed += other.seconds
        self.cpu += other.cpu
        self.runs += other.runs
        self.failed += other.failed
        self.wrong += other.wrong
        self.streamed += other.streamed
        for name, h in other.latency.items():
            self.latency[name].merge(h)
        for name, h in other.call_overhead.items():
            self.call_overhead[name].merge(h)
        self.loop_lag.merge(other.loop_lag)

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "seconds": round(self.seconds, 2),
            "runs": self.runs,
            "runs_per_s": round(self.runs / self.seconds, 1) if self.seconds else 0.0,
            "cpu_ms_per_run": round(self.cpu / self.runs * 1000, 2) if self.runs else math.nan,
            "cpu_cores": round(self.cpu / self.elapsed, 2) if self.elapsed else math.nan,
            "failed": self.failed,
            "wrong_answers": self.wrong,
            "streamed": self.streamed,
            "latency": {c: h.summary() for c, h in self.latency.items()},
            "call_overhead": {c: h.summary() for c, h in self.call_overhead.items()},
            "loop_lag": self.loop_lag.summary(),
        }


class ProbeModel(Model):
    """Times each unary model call around the cached model: what the cache added is the call's
    time minus the inner model's (a hit: the whole call). Everything else is forwarded."""

    def __init__(self, model: Model, windows: Callable[[], Sequence[Window]]) -> None:
        self.model = model
        self._windows = windows

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        probe = CURRENT_RUN.get()
        before = probe.model_seconds if probe else 0.0
        calls = probe.calls if probe else 0
        started = time.perf_counter()
        response = await self.model.get_response(*args, **kwargs)
        elapsed = time.perf_counter() - started
        if probe is not None:
            kind = "hit" if probe.calls == calls else "miss"
            items = kwargs.get("input", args[1] if len(args) > 1 else "")
            last = items[-1] if isinstance(items, list) and items else {}
            turn = "tool_turn" if last.get("type") == "function_call_output" else "first_turn"
            added = elapsed - (probe.model_seconds - before)
            for window in self._windows():
                window.call_overhead[kind].add(added)
                window.call_overhead[turn].add(added)
        return response

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return self.model.stream_response(*args, **kwargs)

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.model._cleanup_on_run_end(owner)

    async def close(self) -> None:
        await self.model.close()

    def get_retry_advice(self, request: Any) -> Any:
        return self.model.get_retry_advice(request)


class LedgerStore:
    """A pass-through store that writes down every key a ``set`` succeeded for (in a file, so
    the soak's memory stays flat) and when the store last answered. ``inner`` lets the Redis
    plugin find the RedisStore below (single-flight, the semantic index), as through
    ``SignedStore``."""

    def __init__(self, inner: Any, ledger: Path) -> None:
        self.inner = inner
        self.path = ledger
        self._file = open(ledger, "a", buffering=1 << 16)  # noqa: SIM115 - closed in close()
        self.writes = 0
        self.last_value = 0.0
        """monotonic time of the last ``get`` that returned a value"""
        self.mark_at = math.inf
        self.first_ok: float | None = None
        self.first_value: float | None = None
        self.first_write: float | None = None
        """The first call that returned, read a value, wrote, at or after ``mark()``."""

    def mark(self, at: float) -> None:
        """Start timing recovery: the firsts are taken from ``at`` on."""
        self.mark_at, self.first_ok, self.first_value, self.first_write = at, None, None, None

    def _answered(self, value: bool = False, write: bool = False) -> None:
        now = time.monotonic()
        if value:
            self.last_value = now
        if now >= self.mark_at:
            self.first_ok = self.first_ok or now
            if value:
                self.first_value = self.first_value or now
            if write:
                self.first_write = self.first_write or now

    async def get(self, key: CacheKey) -> bytes | None:
        value: bytes | None = await self.inner.get(key)
        self._answered(value=value is not None)
        return value

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        await self.inner.set(key, value, ttl)
        self._answered(write=True)
        self.writes += 1
        self._file.write(f"{key.namespace}\t{key.digest}\n")

    async def delete(self, key: CacheKey) -> None:
        await self.inner.delete(key)
        self._answered()

    async def clear(self, namespace: str | None = None) -> int:
        return int(await self.inner.clear(namespace))

    async def size(self, namespace: str | None = None) -> int:
        return int(await self.inner.size(namespace))

    async def keys(self, namespace: str | None = None) -> AsyncIterator[CacheKey]:
        async for key in self.inner.keys(namespace):
            yield key

    async def close(self) -> None:
        self._file.close()
        await self.inner.close()

    def written(self) -> list[CacheKey]:
        self._file.flush()
        lines = self.path.read_text().splitlines()
        return [CacheKey(*line.split("\t")) for line in lines]


async def verify_entries(store: Store, keys: Sequence[CacheKey]) -> dict[str, int]:
    """Read each key back (the store itself, no budget, no breaker) and decode it."""
    result: Counter[str] = Counter()
    unique = list(dict.fromkeys(keys))

    async def check(key: CacheKey) -> str:
        try:
            raw = await store.get(key)
        except Exception:
            return "unreadable"
        if raw is None:
            return "missing"
        try:
            entry = decode(raw)
        except CorruptEntry:
            return "corrupt"
        return "intact" if entry.digest == key.digest else "misfiled"

    for start in range(0, len(unique), 200):
        for outcome in await asyncio.gather(*(check(k) for k in unique[start : start + 200])):
            result[outcome] += 1
    return {"writes": len(keys), "keys": len(unique), **result}


# ---------------------------------------------------------------------------------------------
# The load


class Load:
    """``concurrency`` workers running agents back to back until ``stop()``. Each run is
    recorded in every window of ``windows()`` (the current interval, the phase, a fault's)."""

    def __init__(
        self,
        model: Model,
        *,
        concurrency: int,
        seed: int = 1,
        new_share: float = 0.2,
        stream_share: float = 0.1,
    ) -> None:
        self.agent = make_agent()
        self.run_config = RunConfig(model=ProbeModel(model, self.windows), tracing_disabled=True)
        self.prompts = Prompts(seed)
        self.concurrency = concurrency
        self.seed = seed
        self.new_share, self.stream_share = new_share, stream_share
        self.active: list[Window] = []
        self.errors: Counter[str] = Counter()
        self.examples: list[str] = []
        self._stopping = False
        self._workers: list[asyncio.Task[None]] = []

    def windows(self) -> Sequence[Window]:
        return self.active

    def start(self) -> None:
        self._stopping = False
        self._workers = [
            asyncio.create_task(self._worker(random.Random(self.seed * 1000 + i)))
            for i in range(self.concurrency)
        ]

    async def stop(self) -> None:
        """Let every run in progress finish (none is cancelled), then return."""
        self._stopping = True
        await asyncio.gather(*self._workers)

    async def _worker(self, rng: random.Random) -> None:
        # Streamed runs pick repeat or new with the same odds as unary ones (7:2).
        new_odds = self.new_share / (1 - self.stream_share)
        while not self._stopping:
            streamed = rng.random() < self.stream_share
            new = rng.random() < new_odds
            prompt = self.prompts.new() if new else self.prompts.earlier(rng)
            await self.run_one(prompt, streamed)

    async def run_one(self, prompt: str, streamed: bool) -> None:
        probe = RunProbe()
        token = CURRENT_RUN.set(probe)
        started = time.perf_counter()
        output: Any = None
        error: BaseException | None = None
        try:
            if streamed:
                result = Runner.run_streamed(self.agent, prompt, run_config=self.run_config)
                async for _ in result.stream_events():
                    pass
                output = result.final_output
            else:
                output = (
                    await Runner.run(self.agent, prompt, run_config=self.run_config)
                ).final_output
        except Exception as exc:  # a failed run is what the soak is looking for
            error = exc
        finally:
            CURRENT_RUN.reset(token)
        elapsed = time.perf_counter() - started
        kind = "hit" if probe.calls == 0 else "miss" if probe.calls >= TURNS else "partial"
        if error is not None:
            self.errors[type(error).__name__] += 1
            if len(self.examples) < 5:
                self.examples.append("".join(traceback.format_exception(error))[-3000:])
        for window in self.active:
            window.runs += 1
            window.streamed += streamed
            if error is not None:
                window.failed += 1
                continue
            window.wrong += output != expected_answer(prompt)
            window.latency["all"].add(elapsed)
            window.latency[kind].add(elapsed)


class Vitals:
    """Process and server numbers sampled over time: RSS, CPU, tasks, loop lag, Redis clients."""

    def __init__(self, redis_url: str | None) -> None:
        self.process = psutil.Process()
        self.process.cpu_percent()
        self.redis: Any = None
        if redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(redis_url, socket_timeout=2.0)
        self.timeline: list[dict[str, Any]] = []

    async def sample(self, elapsed: float, label: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "t": round(elapsed, 1),
            "phase": label,
            "rss_mb": round(self.process.memory_info().rss / 2**20, 1),
            "cpu_pct": round(self.process.cpu_percent(), 1),
            "tasks": len(asyncio.all_tasks()),
            "threads": self.process.num_threads(),
        }
        if self.redis is not None:
            try:
                info = await self.redis.info("clients")
                memory = await self.redis.info("memory")
                row["redis_clients"] = int(info["connected_clients"])
                row["redis_mb"] = round(int(memory["used_memory"]) / 2**20, 1)
            except Exception as exc:  # a fault run samples a server that may be down
                row["redis_clients"] = f"n/a ({type(exc).__name__})"
        self.timeline.append(row)
        return row

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


async def measure_loop_lag(windows: Callable[[], Sequence[Window]], stop: asyncio.Event) -> None:
    """How late a 20 ms sleep wakes up: the time a ready run waits for the event loop."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.02)
        lag = time.perf_counter() - started - 0.02
        for window in windows():
            window.loop_lag.add(max(lag, 0.0))


class Diagnostics:
    """Counts what should never happen quietly: warnings logged by agentcache, redis or asyncio,
    unhandled task exceptions, Python warnings (an unclosed connection's ResourceWarning)."""

    def __init__(self) -> None:
        self.logged: Counter[str] = Counter()
        self.samples: dict[str, str] = {}
        self.loop_errors: list[str] = []
        self.py_warnings: Counter[str] = Counter()

    def install(self) -> None:
        diagnostics = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                name = f"{record.name}:{record.levelname}"
                diagnostics.logged[name] += 1
                diagnostics.samples.setdefault(name, record.getMessage()[:300])

        logging.getLogger().addHandler(Handler(logging.WARNING))
        warnings.simplefilter("always", ResourceWarning)
        warnings.showwarning = self._warning

    def _warning(self, message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        self.py_warnings[f"{category.__name__}: {str(message)[:200]}"] += 1

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.loop_errors.append(f"{context.get('message')}: {exc!r}"[:500])

    def summary(self) -> dict[str, Any]:
        return {"logged": dict(self.logged), "log_samples": self.samples,
                "loop_errors": self.loop_errors[:20], "loop_error_count": len(self.loop_errors),
                "python_warnings": dict(self.py_warnings)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Building the cached model


def vectorizer_spec(vectorizer: str) -> Any:
    """The ``SemanticConfig(vectorizer=...)`` a ``--vectorizer`` name stands for."""
    if vectorizer == "default":
        return None
    if vectorizer == "torch":
        return _torch_model()
    return vectorizer


@functools.cache
def _torch_model() -> Any:
    from agentcache_semantic import LocalModel

    return LocalModel()  # one instance: warmed up once, then used by the cached model


def semantic_option(vectorizer: str) -> Any:
    if vectorizer == "off":
        return None
    from agentcache_semantic import SemanticConfig

    return SemanticConfig(vectorizer=vectorizer_spec(vectorizer))


async def warm_vectorizer(vectorizer: str) -> float:
    """Load the embedding model before timing anything (a service loads it once at start);
    seconds it took."""
    if vectorizer == "off":
        return 0.0
    from agentcache_semantic.vectorizer import resolve

    started = time.perf_counter()
    await resolve(vectorizer_spec(vectorizer))("warm up the model")
    return time.perf_counter() - started


def redis_store(url: str) -> Any:
    from agentcache_redis import from_url

    return from_url(url)


# ---------------------------------------------------------------------------------------------
# The soak itself


def line(row: dict[str, Any], window: Window, stats: Any) -> str:
    lat = window.latency
    text = (
        f"[{row['t']:6.1f}s {row['phase']:<8}] {window.runs / window.seconds:6.1f} runs/s"
        f"  hit p50/p99 {fmt(lat['hit'])}  miss {fmt(lat['miss'])}"
        f"  lag p99 {ms(window.loop_lag.quantile(0.99)):.0f} ms  failed {window.failed}"
    )
    if stats is not None:
        errors = sum(stats.errors.values())
        text += f"  hits {stats.hits} misses {stats.misses} errors {errors}"
    text += f"  rss {row['rss_mb']:.0f} MB cpu {row['cpu_pct']:.0f}% tasks {row['tasks']}"
    if "redis_clients" in row:
        text += f" redis clients {row['redis_clients']}"
    return text


def fmt(h: Histogram) -> str:
    if not h.count:
        return "      -      "
    return f"{ms(h.quantile(0.5)):5.0f}/{ms(h.quantile(0.99)):5.0f} ms"


async def run_slice(
    load: Load,
    seconds: float,
    interval: float,
    phase: Window,
    vitals: Vitals,
    t0: float,
    cached: CachedModel | None,
) -> None:
    """Run the load for ``seconds`` (then let the runs in progress finish: the next slice
    starts from an idle loop), a line every ``interval`` and one at the end."""
    stop = asyncio.Event()
    tick = Window(phase.label).open()
    phase.open()
    load.active = [phase, tick]
    lag = asyncio.create_task(measure_loop_lag(load.windows, stop))
    load.start()
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left > 0.5:
            await asyncio.sleep(min(interval, left))
        if deadline - time.monotonic() <= 0.5:
            await load.stop()  # drained: counted in this slice's time
        tick.close()
        row = await vitals.sample(time.monotonic() - t0, phase.label)
        row.update(runs_per_s=round(tick.runs / tick.seconds, 1), failed=tick.failed)
        print(line(row, tick, cached.stats() if cached else None), flush=True)
        if deadline - time.monotonic() <= 0.5:
            break
        tick = Window(phase.label).open()
        load.active = [phase, tick]
    stop.set()
    await lag
    phase.close()
    load.active = []


def schedule(duration: float, cycle: float, baseline: float) -> list[tuple[str, float]]:
    """Baseline and cached slices in turn until the cached ones add up to ``duration``."""
    slices: list[tuple[str, float]] = []
    left = duration
    while left > 0:
        cached = min(cycle - baseline, left)
        slices += [("baseline", baseline), ("cached", cached)]
        left -= cached
    return slices


def trend(timeline: Sequence[dict[str, Any]], name: str, after: float) -> dict[str, Any]:
    """First value after warm-up, last, max, and the change per minute in between (cached
    slices only: the baseline slices run another load)."""
    rows = [
        (r["t"], r[name])
        for r in timeline
        if r["t"] >= after and r["phase"] == "cached" and isinstance(r.get(name), (int, float))
    ]
    if len(rows) < 2:
        return {}
    (t1, first), (t2, last) = rows[0], rows[-1]
    per_min = (last - first) / (t2 - t1) * 60 if t2 > t1 else 0.0
    return {"after_warmup": first, "last": last, "max": max(v for _, v in rows),
            "change_per_min": round(per_min, 2)}  # fmt: skip


def code_under_test() -> dict[str, str]:
    """Which agentcache this measured (a checkout may hold uncommitted changes)."""
    import agentcache
    import agentcache.guard

    guard = Path(agentcache.guard.__file__).read_bytes()
    return {"agentcache": str(Path(agentcache.__file__).parent),
            "guard_sha256": hashlib.sha256(guard).hexdigest()[:12]}  # fmt: skip


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    diagnostics: Diagnostics = args.diagnostics
    asyncio.get_running_loop().set_exception_handler(diagnostics.loop_handler)
    redis_server = load_script("redis_server")
    server = redis_server.RedisServer(modules=True).start()
    workdir = Path(tempfile.mkdtemp(prefix="agentcache-soak-"))
    plan = schedule(args.duration, args.cycle, args.baseline_slice)
    report: dict[str, Any] = {
        "config": {"concurrency": args.concurrency, "duration_s": args.duration,
                   "baseline": f"interleaved: {args.baseline_slice:g} s before every "
                               f"{args.cycle - args.baseline_slice:g} s of cached load",
                   "model_latency_s": args.model_latency, "vectorizer": args.vectorizer,
                   "store_timeout_s": args.store_timeout,
                   "mix": "70% repeat, 20% new, 10% streamed", "redis": server.url},
        "code": code_under_test(),
        "loadavg_start": os.getloadavg(),
    }  # fmt: skip
    vitals = Vitals(server.url)
    try:
        inner = ScriptedWeatherModel(args.model_latency)
        report["vectorizer_load_s"] = round(await warm_vectorizer(args.vectorizer), 2)
        store = LedgerStore(redis_store(server.url), workdir / "ledger.tsv")
        cached = CachedModel(
            inner, store=store, namespace="soak", store_timeout=args.store_timeout,
            semantic=semantic_option(args.vectorizer),
        )  # fmt: skip
        loads = {
            "baseline": Load(inner, concurrency=args.concurrency, seed=args.seed),
            "cached": Load(cached, concurrency=args.concurrency, seed=args.seed),
        }
        phases = {"baseline": Window("baseline"), "cached": Window("cached")}
        print(
            f"Redis {server.url}; {args.concurrency} concurrent runs; {args.duration:g} s cached"
            f" load, {report['config']['baseline']} on the bare model (no cache)",
            flush=True,
        )
        t0 = time.monotonic()
        warmup_at = min(max(2 * args.interval, args.duration / 10), 60.0)
        for mode, seconds in plan:
            await run_slice(
                loads[mode], seconds, args.interval, phases[mode], vitals, t0,
                cached if mode == "cached" else None,
            )  # fmt: skip
        await cached.flush()
        stats = cached.stats()
        entries = await verify_entries(store.inner, store.written())
        await cached.close()
        await store.close()
        await asyncio.sleep(0.1)  # let closed connections leave the server's count
        end_row = await vitals.sample(time.monotonic() - t0, "closed")
        report.update(
            baseline=phases["baseline"].summary(),
            cached=phases["cached"].summary(),
            failures={"baseline": dict(loads["baseline"].errors),
                      "cached": dict(loads["cached"].errors),
                      "examples": loads["baseline"].examples + loads["cached"].examples},
            stats={"hits": stats.hits, "misses": stats.misses, "stores": stats.stores,
                   "hits_by_layer": dict(stats.hits_by_layer), "errors": dict(stats.errors),
                   "bypasses": dict(stats.bypasses), "not_stored": dict(stats.not_stored),
                   "semantic": dict(stats.semantic)},
            entries=entries,
            trends={name: trend(vitals.timeline, name, warmup_at)
                    for name in ("rss_mb", "tasks", "redis_clients", "threads", "redis_mb")},
            redis_clients_after_close=end_row.get("redis_clients"),
            loadavg_end=os.getloadavg(),
            timeline=vitals.timeline,
        )  # fmt: skip
    finally:
        await vitals.close()
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def added(cached: dict[str, Any], base: dict[str, Any], q: str) -> float:
    return round(float(cached[q]) - float(base[q]), 1)


def print_summary(report: dict[str, Any]) -> None:
    config, base, cached = report["config"], report["baseline"], report["cached"]
    b, c = base["latency"]["all"], cached["latency"]
    out = [
        "",
        f"Soak summary: {config['concurrency']} concurrent runs, model "
        f"{config['model_latency_s'] * 1000:.0f} ms per turn, semantic {config['vectorizer']}",
        f"  baseline         {config['baseline']}",
        f"  code             {report['code']['agentcache']} (guard.py "
        f"{report['code']['guard_sha256']}); machine load average "
        f"{report['loadavg_start'][0]:.1f} at start, {report['loadavg_end'][0]:.1f} at end",
        f"  throughput       baseline {base['runs_per_s']:.1f} runs/s, cached "
        f"{cached['runs_per_s']:.1f} runs/s ({cached['runs_per_s'] / base['runs_per_s']:.2f}x)",
        f"  CPU per run      baseline {base['cpu_ms_per_run']:.1f} ms, cached "
        f"{cached['cpu_ms_per_run']:.1f} ms (cores busy: {base['cpu_cores']:.2f}, "
        f"{cached['cpu_cores']:.2f}; the event loop is one core)",
        f"  baseline runs    n={b['n']} p50 {b['p50_ms']:.0f} ms  p99 {b['p99_ms']:.0f} ms"
        f"  (loop lag p99 {base['loop_lag']['p99_ms']:.0f} ms)",
    ]
    for cls in RUN_CLASSES:
        s = c[cls]
        if s["n"]:
            out.append(
                f"  {cls + ' runs':<16} n={s['n']} p50 {s['p50_ms']:.0f} ms  p99 "
                f"{s['p99_ms']:.0f} ms; vs baseline p50 {added(s, b, 'p50_ms'):+.0f} ms, "
                f"p99 {added(s, b, 'p99_ms'):+.0f} ms"
            )
    out.append(f"  cached loop lag  p99 {cached['loop_lag']['p99_ms']:.0f} ms")
    for kind, what in (
        ("hit", "a whole hit"),
        ("miss", "added to a miss"),
        ("first_turn", "added, 1st turns"),
        ("tool_turn", "added, tool turns"),
    ):
        s = cached["call_overhead"][kind]
        out.append(
            f"  per model call   {what:<16} p50 {s['p50_ms']:.2f} ms  p99 {s['p99_ms']:.2f} ms"
            f"  max {s['max_ms']:.0f} ms (n={s['n']})"
        )
    stats, e, d = report["stats"], report["entries"], report["diagnostics"]
    out += [
        f"  failed runs      baseline {base['failed']}, cached {cached['failed']};"
        f" wrong answers {base['wrong_answers']}, {cached['wrong_answers']}",
        f"  cache            hits {stats['hits']} {stats['hits_by_layer']}, misses "
        f"{stats['misses']}, stores {stats['stores']}",
        f"  stats().errors   {stats['errors'] or 0}; semantic {stats['semantic'] or '-'}",
    ]
    for name, t in report["trends"].items():
        if t:
            out.append(
                f"  {name:<16} after warm-up {t['after_warmup']}, last {t['last']}, max "
                f"{t['max']}, change {t['change_per_min']:+}/min"
            )
    bad = e.get("corrupt", 0) + e.get("misfiled", 0)
    out += [
        f"  redis clients after close: {report['redis_clients_after_close']}",
        f"  entries          stores {stats['stores']}, ledger writes {e['writes']}, keys "
        f"{e['keys']}: intact {e.get('intact', 0)}, missing {e.get('missing', 0)}, corrupt "
        f"{bad}, unreadable {e.get('unreadable', 0)}",
        f"  warnings         logged {d['logged'] or 0}; loop errors {d['loop_error_count']};"
        f" python warnings {d['python_warnings'] or 0}",
    ]
    for example in report["failures"]["examples"][:2]:
        out.append("  failure example:\n    " + example.replace("\n", "\n    "))
    print("\n".join(out), flush=True)


def verdict(report: dict[str, Any]) -> list[str]:
    problems = []
    failed = report["baseline"]["failed"] + report["cached"]["failed"]
    if failed:
        kinds = {k: v for k, v in report["failures"].items() if k != "examples"}
        problems.append(f"{failed} run(s) failed: {kinds}")
    wrong = report["baseline"]["wrong_answers"] + report["cached"]["wrong_answers"]
    if wrong:  # a wrong answer served from the cache is the one failure worse than a miss
        problems.append(f"{wrong} run(s) answered wrong (baseline + cached)")
    e, stores = report["entries"], report["stats"]["stores"]
    if e.get("intact", 0) != e["keys"] or e["writes"] < stores:
        problems.append(f"entries written but not read back intact: {e} (stores {stores})")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--duration", type=float, default=600.0, help="seconds of cached load (default 600)")
    add("--concurrency", type=int, default=200, help="runs in flight (default 200)")
    add(
        "--cycle",
        type=float,
        default=60.0,
        help="seconds of one baseline slice plus one cached slice (default 60)",
    )
    add(
        "--baseline-slice",
        type=float,
        default=10.0,
        help="seconds of uncached load at the start of every cycle (default 10)",
    )
    add("--interval", type=float, default=None, help="seconds between lines (default 10)")
    add("--model-latency", type=float, default=0.075, help="seconds per turn (default 0.075)")
    add(
        "--vectorizer",
        choices=("default", "torch", "onnx", "onnx-int8", "off"),
        default=None,
        help="the semantic layer's: default (semantic=True) by default, onnx-int8 with --smoke",
    )
    add("--store-timeout", type=float, default=0.25)
    add("--seed", type=int, default=1)
    add(
        "--smoke",
        action="store_true",
        help="20 s of cached load in two cycles, onnx-int8: about 40 s in all, for CI",
    )
    add("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.cycle, args.baseline_slice = 20.0, 14.0, 4.0
    if args.vectorizer is None:
        args.vectorizer = "onnx-int8" if args.smoke else "default"
    if args.interval is None:
        args.interval = 4.0 if args.smoke else 10.0
    if not 0 < args.baseline_slice < args.cycle:
        parser.error("--baseline-slice must be shorter than --cycle")
    set_tracing_disabled(True)
    args.diagnostics = Diagnostics()
    args.diagnostics.install()
    try:
        report = asyncio.run(soak(args))
    except (RuntimeError, OSError) as exc:
        print(f"soak setup failed: {exc}", file=sys.stderr)
        return 2
    gc.collect()  # an unclosed client warns when collected: count it before reporting
    report["diagnostics"] = args.diagnostics.summary()
    print_summary(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    problems = verdict(report)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
