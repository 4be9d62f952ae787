"""What the OpenTelemetry plugin costs on a cache hit: tracing on vs off, in one interleaved run.

    .venv/bin/python benchmarks/bench_otel.py            # full run (about a minute)
    .venv/bin/python benchmarks/bench_otel.py --quick    # CI smoke run (a few seconds)
    .venv/bin/python benchmarks/bench_otel.py --json out.json

Three cached models answer the same calls from exact memory hits, measured round by round with
the order rotated every round:

- ``off``: no otel plugin at all (the baseline);
- ``idle``: the plugin loaded but no tracer or meter provider configured (what every user of
  ``openai-agents`` gets, since ``opentelemetry-api`` comes with it);
- ``on``: an OTel SDK ``TracerProvider`` with a ``BatchSpanProcessor`` (what production uses)
  and an exporter that drops the spans, and a ``MeterProvider`` with an in-memory reader: every
  span and metric is made, processed and handed to an exporter, only the network is left out;
- ``simple``: the same with a ``SimpleSpanProcessor``, which exports each span in the caller.

The store is the default memory store, whose lookups do no I/O and get no span of their own,
so a hit makes one span (the call) and two or three metric updates.

Phase 1 times a whole ``Runner.run`` of a two-turn tool-using agent (goal: p50(on) / p50(off)
<= 1.15); phase 2 one ``get_response`` hit, reported as microseconds added per call. A missed
goal is reported, not failed (exit 0); exit 1 only if a variant was not answered by hits.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import agentcache_otel
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model, ModelTracing
from agents.testing import assistant_message, function_call
from agents.usage import Usage
from bench_core import Series, SetupError, interleave, progress
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from agentcache import CachedModel, Plugins

E2E_GOAL_RATIO = 1.15


class InstantModel(Model):
    """Answers at once: a tool call, then (after the tool's output) the final text."""

    model = "instant-model"
    _usage = Usage(requests=1, input_tokens=850, output_tokens=120, total_tokens=970)
    tool_turn = ModelResponse(
        output=[function_call("get_weather", {"city": "Paris"}, call_id="call_1")],
        usage=_usage,
        response_id="resp_tool",
    )
    final_turn = ModelResponse(
        output=[assistant_message("18 °C and cloudy in Paris.", item_id="msg_1")],
        usage=_usage,
        response_id="resp_final",
    )

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:  # fmt: skip
        last = input[-1] if isinstance(input, list) and input else None
        if isinstance(last, dict) and last.get("type") == "function_call_output":
            return self.final_turn
        return self.tool_turn

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@function_tool
async def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"18 °C and cloudy in {city}"


class DropExporter(SpanExporter):
    """Receives every finished span and drops it: the SDK's whole pipeline minus the network."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


VARIANTS = ("off", "idle", "on", "simple")


@dataclass
class Models:
    models: dict[str, CachedModel]
    exporters: dict[str, DropExporter]
    providers: list[TracerProvider]

    def all(self) -> dict[str, CachedModel]:
        return self.models

    def exported(self) -> dict[str, int]:
        for provider in self.providers:
            provider.force_flush()
        return {name: exporter.exported for name, exporter in self.exporters.items()}


def build_models() -> Models:
    without = Plugins(load_entry_points=False)
    with_otel = Plugins(load_entry_points=False)
    with_otel.register(agentcache_otel.hooks, name="otel")
    models = {
        "off": CachedModel(InstantModel(), plugins=without),
        "idle": CachedModel(InstantModel(), plugins=with_otel),  # no provider configured
    }
    exporters, providers = {}, []
    for name, processor in (("on", BatchSpanProcessor), ("simple", SimpleSpanProcessor)):
        exporters[name] = DropExporter()
        provider = TracerProvider()
        provider.add_span_processor(processor(exporters[name]))
        providers.append(provider)
        options = {
            "otel_tracer_provider": provider,
            "otel_meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()]),
        }
        models[name] = CachedModel(InstantModel(), plugins=with_otel, options=options)
    return Models(models, exporters, providers)


def check_hits(models: Models, before: dict[str, Any], calls: int) -> None:
    for name, model in models.all().items():
        hits = model.stats().hits - before[name].hits
        misses = model.stats().misses - before[name].misses
        if hits != calls or misses:
            raise SetupError(f"{name}: expected {calls} hits, got {hits} hits, {misses} misses")


def report(title: str, series: dict[str, Series]) -> dict[str, Any]:
    summary = {name: s.summary() for name, s in series.items()}
    print(title)
    for name, s in summary.items():
        print(f"  {name:<6} p50 {s['p50_us']:9.1f} us   p99 {s['p99_us']:9.1f} us   n={s['n']}")
    return summary


async def phase_e2e(models: Models, rounds: int, warmup: int) -> dict[str, Any]:
    progress(f"[1/2] Runner.run, exact hits: warm-up {warmup}, then {rounds} interleaved rounds")
    agent = Agent(
        name="weather",
        instructions="Use the tool, then answer in one sentence.",
        tools=[get_weather],
        model_settings=ModelSettings(temperature=0),
    )

    def runner(model: CachedModel) -> Callable[[], Awaitable[object]]:
        config = RunConfig(model=model, tracing_disabled=True)
        return lambda: Runner.run(agent, "Weather in Paris?", run_config=config)

    for model in models.all().values():  # fill each cache
        await runner(model)()
        await model.flush()
    series = {name: Series(name) for name in VARIANTS}
    variants = [(series[name], runner(model)) for name, model in models.all().items()]
    await interleave(variants, warmup)
    for s in series.values():
        s.samples_ns.clear()
    before = {name: model.stats() for name, model in models.all().items()}
    exported = models.exported()
    gc.collect()
    await interleave(variants, rounds)
    check_hits(models, before, 2 * rounds)
    after = models.exported()
    if any(after[name] - exported[name] != 2 * rounds for name in after):  # one span per call
        raise SetupError(f"expected {2 * rounds} call spans exported, got {after} - {exported}")
    summary = report("Runner.run of a 2-turn tool agent, every model turn an exact hit:", series)
    ratio_on = summary["on"]["p50_us"] / summary["off"]["p50_us"]
    ratio_idle = summary["idle"]["p50_us"] / summary["off"]["p50_us"]
    ratio_simple = summary["simple"]["p50_us"] / summary["off"]["p50_us"]
    p99_on = summary["on"]["p99_us"] / summary["off"]["p99_us"]
    verdict = "PASS" if ratio_on <= E2E_GOAL_RATIO else "MISS"
    print(f"  ratio p50(on) / p50(off)     {ratio_on:6.3f}x   goal <= {E2E_GOAL_RATIO}x  {verdict}")
    print(f"  ratio p99(on) / p99(off)     {p99_on:6.3f}x")
    print(f"  ratio p50(simple) / p50(off) {ratio_simple:6.3f}x   (SimpleSpanProcessor)")
    print(
        f"  ratio p50(idle) / p50(off)   {ratio_idle:6.3f}x   (plugin loaded, nothing configured)"
    )
    return {
        "series": summary,
        "ratio_p50_on": ratio_on,
        "ratio_p99_on": p99_on,
        "ratio_p50_idle": ratio_idle,
        "ratio_p50_simple": ratio_simple,
        "goal": E2E_GOAL_RATIO,
        "pass": ratio_on <= E2E_GOAL_RATIO,
    }


async def phase_call(models: Models, rounds: int, warmup: int) -> dict[str, Any]:
    progress(f"[2/2] one get_response hit: warm-up {warmup}, then {rounds} interleaved rounds")
    args = ("Answer briefly.", [{"role": "user", "content": "Weather in Paris?"}],
            ModelSettings(temperature=0), [], None, [], ModelTracing.DISABLED)  # fmt: skip

    def caller(model: CachedModel) -> Callable[[], Awaitable[object]]:
        return lambda: model.get_response(*args)  # type: ignore[arg-type]

    for model in models.all().values():
        await caller(model)()
        await model.flush()
    series = {name: Series(name) for name in VARIANTS}
    variants = [(series[name], caller(model)) for name, model in models.all().items()]
    await interleave(variants, warmup)
    for s in series.values():
        s.samples_ns.clear()
    before = {name: model.stats() for name, model in models.all().items()}
    gc.collect()
    await interleave(variants, rounds)
    check_hits(models, before, rounds)
    summary = report("One get_response exact hit (1 input item, no tools):", series)
    added_on = summary["on"]["p50_us"] - summary["off"]["p50_us"]
    added_idle = summary["idle"]["p50_us"] - summary["off"]["p50_us"]
    added_simple = summary["simple"]["p50_us"] - summary["off"]["p50_us"]
    ratio_on = summary["on"]["p50_us"] / summary["off"]["p50_us"]
    print(f"  added per call, p50(on) - p50(off)     {added_on:7.1f} us  ({ratio_on:.2f}x)")
    print(f"  added per call, p50(simple) - p50(off) {added_simple:7.1f} us")
    print(f"  added per call, p50(idle) - p50(off)   {added_idle:7.1f} us")
    return {"series": summary, "added_us_on": added_on, "added_us_idle": added_idle,
            "added_us_simple": added_simple, "ratio_p50_on": ratio_on}  # fmt: skip


async def run(quick: bool) -> dict[str, Any]:
    set_tracing_disabled(True)
    models = build_models()
    if quick:
        e2e_rounds, e2e_warmup, call_rounds, call_warmup = 150, 20, 1000, 100
    else:
        e2e_rounds, e2e_warmup, call_rounds, call_warmup = 2000, 200, 15000, 1000
    e2e = await phase_e2e(models, e2e_rounds, e2e_warmup)
    call = await phase_call(models, call_rounds, call_warmup)
    return {"mode": "quick" if quick else "full", "end_to_end": e2e, "one_call": call}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (CI smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        results = asyncio.run(run(args.quick))
    except SetupError as exc:
        print(f"benchmark setup is broken, numbers would be meaningless: {exc}", file=sys.stderr)
        return 1
    progress(f"done in {time.perf_counter() - started:.1f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
