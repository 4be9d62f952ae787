"""The OpenTelemetry plugin through ``Runner.run``, with the real OTel SDK's in-memory exporter
and metric reader.

Each test gets its own SDK tracer and meter providers, handed to the model through
``options`` so the process-wide providers stay untouched; the global path is tested in a child
process (``test_global_providers``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agentcache_otel
import pytest
from agents import Agent, ModelSettings, RunConfig, Runner
from agents.items import ModelResponse
from agents.models.interface import ModelTracing
from agents.testing import assistant_message
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import agentcache
from agentcache import CachedModel, Entry, Handler, ModelCall, Plugins, StageContext, hookimpl
from agentcache.chain import ORDER_SEMANTIC
from agentcache.response import to_response
from tests.support import TurnModel, weather_agent

ROOT = Path(__file__).parents[2]


@dataclass
class Otel:
    tracer_provider: TracerProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    meter_provider: MeterProvider

    def options(self, **more: Any) -> dict[str, Any]:
        return {
            "otel_tracer_provider": self.tracer_provider,
            "otel_meter_provider": self.meter_provider,
            "otel_in_process_steps": True,  # step spans for the memory store too
            **more,
        }

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
        return [s for s in spans if name is None or s.name == name]

    def children(self, parent: ReadableSpan) -> list[str]:
        assert parent.context is not None
        return [
            s.name
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, point) of every data point of ``metric``."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        found += [(dict(p.attributes or {}), p) for p in m.data.data_points]
        return found

    def counts(self, metric: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        return {tuple(sorted(attrs.items())): p.value for attrs, p in self.points(metric)}


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(tracer_provider, exporter, reader, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def scripted() -> TurnModel:
    inner = TurnModel()
    inner.model = "scripted-4o"  # type: ignore[attr-defined]  # read into the model identity
    return inner


async def run(cached: CachedModel, prompt: str = "weather?") -> Any:
    result = await Runner.run(weather_agent(), prompt, run_config=RunConfig(model=cached))
    await cached.flush()
    return result


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def outcomes(spans: Sequence[ReadableSpan]) -> list[Any]:
    return [attrs(s).get("agentcache.outcome") for s in spans]


async def test_plugin_is_discovered_and_adds_the_outermost_stage(otel: Otel) -> None:
    plugins = Plugins()  # real entry-point discovery
    (otel_status,) = [s for s in plugins.report if s.name == "otel"]
    assert otel_status.loaded and otel_status.distribution == "agentcache-middleware"
    cached = CachedModel(scripted(), plugins=plugins, options=otel.options())
    ordered = sorted(cached.stages, key=lambda s: s.order)
    assert [s.name for s in ordered[:2]] == ["otel", "stats"]
    assert isinstance(cached.tracer, agentcache_otel.Telemetry)
    stage = ordered[0]
    assert isinstance(stage, agentcache_otel.TelemetryStage)
    assert stage.telemetry is cached.tracer  # the call span and the step spans share one


async def test_miss_then_hit_spans_and_attributes(otel: Otel) -> None:
    cached = CachedModel(scripted(), namespace="weather-ns", options=otel.options())
    await run(cached)
    calls = otel.spans("agentcache.get_response")
    assert outcomes(calls) == ["miss"] * 3
    keys = [c.key.digest[:12] for c in list(cached.recent_calls)[-3:]]
    for span, key in zip(calls, keys, strict=True):
        a = attrs(span)
        assert a["agentcache.key"] == key
        assert len(key) == 12 and int(key, 16) >= 0
        assert a["agentcache.namespace"] == "weather-ns"
        assert a["agentcache.streamed"] is False
        assert a["gen_ai.request.model"] == "scripted-4o"
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.request.temperature"] == 0.2
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (50, 10)
        assert a["gen_ai.response.id"].startswith("resp_")
        assert "agentcache.layer" not in a and "agentcache.tokens_saved" not in a
        assert span.status.status_code is StatusCode.UNSET
        # the background write is a child of the call too, though it may end after it
        assert sorted(otel.children(span)) == [
            "agentcache.lookup",
            "agentcache.model",
            "agentcache.store_write",
        ]
    steps = otel.spans("agentcache.lookup") + otel.spans("agentcache.model")
    assert {s.context.trace_id for s in steps} == {c.context.trace_id for c in calls}

    otel.exporter.clear()
    await run(cached)
    hits = otel.spans("agentcache.get_response")
    assert outcomes(hits) == ["hit"] * 3
    for span, key in zip(hits, keys, strict=True):
        a = attrs(span)
        assert (a["agentcache.layer"], a["agentcache.key"]) == ("exact", key)
        assert a["agentcache.tokens_saved"] == 60
        assert a["agentcache.seconds_saved"] >= 0
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (0, 0)
        assert "gen_ai.response.id" not in a  # the stored id belongs to the original answer
        assert otel.children(span) == ["agentcache.lookup"]


async def test_steps_of_an_in_process_store_get_no_span_unless_asked(
    otel: Otel, tmp_path: Path
) -> None:
    options = otel.options(otel_in_process_steps=False)
    await run(CachedModel(scripted(), options=options))  # memory store: no I/O to show
    assert sorted({s.name for s in otel.spans()}) == ["agentcache.get_response", "agentcache.model"]

    otel.exporter.clear()
    on_disk = CachedModel(scripted(), store=f"file://{tmp_path}", options=options)
    await run(on_disk)
    await run(on_disk)
    calls = otel.spans("agentcache.get_response")
    assert [sorted(otel.children(c)) for c in calls] == [
        ["agentcache.lookup", "agentcache.model", "agentcache.store_write"]
    ] * 3 + [["agentcache.lookup"]] * 3


async def test_call_span_is_parented_to_the_current_otel_span(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options())
    app = otel.tracer_provider.get_tracer("app")
    with app.start_as_current_span("handle_request") as outer:
        await run(cached)
    (root,) = otel.spans("handle_request")
    assert otel.children(root) == ["agentcache.get_response"] * 3
    assert {s.context.trace_id for s in otel.spans()} == {outer.get_span_context().trace_id}
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


async def test_bypass_has_a_reason_and_no_key(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options())
    with agentcache.no_cache():
        await run(cached)
    calls = otel.spans("agentcache.get_response")
    assert outcomes(calls) == ["bypass"] * 3
    for span in calls:
        a = attrs(span)
        assert a["agentcache.bypass_reason"] == "no_cache"
        assert "agentcache.key" not in a  # never computed for a bypassed call
        assert otel.children(span) == ["agentcache.model"]
    assert otel.counts("agentcache.calls") == {
        (("agentcache.bypass_reason", "no_cache"), ("agentcache.outcome", "bypass")): 3
    }


async def test_unkeyable_input_bypass_does_not_break_tracing(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options(), key_extras=None)
    call_args = (None, [{"role": "user", "content": b"raw bytes"}], weather_agent().model_settings,
                 [], None, [], None)  # fmt: skip
    response = await cached.get_response(*call_args)  # type: ignore[arg-type]
    assert isinstance(response, ModelResponse)
    (span,) = otel.spans("agentcache.get_response")
    a = attrs(span)
    assert (a["agentcache.outcome"], a["agentcache.bypass_reason"]) == (
        "bypass",
        "unkeyable_input",
    )
    assert "agentcache.key" not in a


async def test_error_is_recorded_on_the_call_and_the_model_step(otel: Otel) -> None:
    inner = scripted()
    inner.fail_first = 1
    cached = CachedModel(inner, options=otel.options())
    with pytest.raises(RuntimeError, match="upstream failure"):
        await run(cached)
    (call,) = otel.spans("agentcache.get_response")
    (model,) = otel.spans("agentcache.model")
    assert attrs(call)["agentcache.outcome"] == "error"
    for span in (call, model):
        assert span.status.status_code is StatusCode.ERROR
        assert [e.name for e in span.events] == ["exception"]
        assert span.events[0].attributes["exception.type"] == "RuntimeError"  # type: ignore[index]
    assert otel.counts("agentcache.calls") == {(("agentcache.outcome", "error"),): 1}


async def test_metrics_by_outcome_and_layer(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options())
    await run(cached)
    await run(cached)
    await run(cached)
    assert otel.counts("agentcache.calls") == {
        (("agentcache.outcome", "miss"),): 3,
        (("agentcache.layer", "exact"), ("agentcache.outcome", "hit")): 6,
    }
    assert otel.counts("agentcache.tokens_saved") == {(("agentcache.layer", "exact"),): 6 * 60}
    durations = {
        attrs["agentcache.outcome"]: p for attrs, p in otel.points("agentcache.call.duration")
    }
    assert {k: p.count for k, p in durations.items()} == {"miss": 3, "hit": 6}
    assert all(p.sum >= 0 for p in durations.values())


async def test_models_sharing_a_meter_provider_add_up(otel: Otel) -> None:
    first = CachedModel(scripted(), options=otel.options())
    second = CachedModel(scripted(), namespace="other", options=otel.options())
    await run(first)
    await run(second)
    await run(second)
    assert otel.counts("agentcache.calls") == {
        (("agentcache.outcome", "miss"),): 6,
        (("agentcache.layer", "exact"), ("agentcache.outcome", "hit")): 3,
    }
    assert otel.counts("agentcache.tokens_saved") == {(("agentcache.layer", "exact"),): 180}


async def test_no_content_unless_asked(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(agentcache_otel.CAPTURE_CONTENT_ENV, raising=False)
    await run(CachedModel(scripted(), options=otel.options()), "secret prompt")
    dumped = json.dumps([attrs(s) for s in otel.spans()])
    assert "secret prompt" not in dumped and "Sunny" not in dumped
    assert "gen_ai.input.messages" not in dumped

    otel.exporter.clear()
    cached = CachedModel(scripted(), options=otel.options(otel_capture_content=True))
    await run(cached, "secret prompt")
    last = attrs(otel.spans("agentcache.get_response")[-1])
    assert "secret prompt" in last["gen_ai.input.messages"]
    assert "Sunny, 69.8F in Paris" in last["gen_ai.output.messages"]
    assert last["gen_ai.system_instructions"] == "Answer weather questions with the tools."

    otel.exporter.clear()
    monkeypatch.setenv(agentcache_otel.CAPTURE_CONTENT_ENV, "1")
    await run(CachedModel(scripted(), options=otel.options()), "secret prompt")
    assert (
        "secret prompt" in attrs(otel.spans("agentcache.get_response")[0])["gen_ai.input.messages"]
    )


class BrokenTracerProvider(TracerProvider):
    """A real SDK provider whose tracer cannot be made: tracing code raising mid-call."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        raise RuntimeError("tracer backend exploded")


class ExplodingProcessor(SimpleSpanProcessor):
    """A span processor that raises when spans start and end (a buggy exporter pipeline)."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("processor exploded on start")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor exploded on end")


def exploding_provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(ExplodingProcessor(InMemorySpanExporter()))
    return provider


@pytest.mark.parametrize("broken", [BrokenTracerProvider, exploding_provider])
async def test_tracing_failures_never_break_a_call(
    otel: Otel, caplog: pytest.LogCaptureFixture, broken: Any
) -> None:
    import agentcache_otel._telemetry as telemetry_module

    telemetry_module._warned = False
    caplog.set_level(logging.DEBUG, logger="agentcache.otel")
    cached = CachedModel(
        scripted(),
        options={"otel_tracer_provider": broken(),
                 "otel_meter_provider": otel.meter_provider},
    )  # fmt: skip
    first = await run(cached)
    second = await run(cached)
    assert first.final_output == second.final_output == "Sunny, 69.8F in Paris"
    assert cached.stats().hits == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "logged once" in warnings[0].getMessage()
    # metrics still flow: only the broken part is skipped
    assert (
        otel.counts("agentcache.calls")[
            (("agentcache.layer", "exact"), ("agentcache.outcome", "hit"))
        ]
        == 3
    )


GLOBAL_SCRIPT = """
import asyncio, json
from agents import RunConfig, Runner, set_trace_processors, set_tracing_disabled
from agents.tracing import TracingProcessor
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcache import CachedModel
from tests.support import TurnModel, weather_agent


class Collect(TracingProcessor):
    def __init__(self): self.spans = []
    def on_trace_start(self, t): pass
    def on_trace_end(self, t): pass
    def on_span_start(self, s): pass
    def on_span_end(self, s): self.spans.append(s.export())
    def shutdown(self): pass
    def force_flush(self): pass


async def main():
    sdk = Collect()
    set_trace_processors([sdk])
    set_tracing_disabled(False)
    cached = CachedModel(TurnModel(), options={"otel_agents_span": True})
    run = lambda: Runner.run(weather_agent(), "weather?", run_config=RunConfig(model=cached))
    await run()                      # no provider configured yet: nothing is recorded
    await cached.flush()
    unconfigured = [cached.tracer.tracer() is None, cached.tracer.instruments() is None]

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)           # configured after the model was built
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    await run()
    await cached.flush()
    calls = [s for s in exporter.get_finished_spans() if s.name == "agentcache.get_response"]
    points = [
        (dict(p.attributes), p.value)
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics for m in sm.metrics if m.name == "agentcache.calls"
        for p in m.data.data_points
    ]
    custom = [s["span_data"] for s in sdk.spans if s["span_data"].get("name") == "agentcache"]
    print(json.dumps({
        "unconfigured": unconfigured,
        "outcomes": [s.attributes["agentcache.outcome"] for s in calls],
        "scopes": sorted({s.instrumentation_scope.name for s in calls}),
        "points": points,
        "custom": custom,
    }))

asyncio.run(main())
"""


def test_global_providers_and_the_agents_trace() -> None:
    """The default path: global providers, read per call (configured late here), and the
    optional custom span in the Agents SDK's own trace."""
    env = dict(os.environ)
    env.pop(agentcache_otel.CAPTURE_CONTENT_ENV, None)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(GLOBAL_SCRIPT)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["unconfigured"] == [True, True]
    assert out["outcomes"] == ["hit"] * 3  # the first run, unrecorded, filled the cache
    assert out["scopes"] == ["agentcache"]
    assert out["points"] == [[{"agentcache.outcome": "hit", "agentcache.layer": "exact"}, 3]]
    # six calls, six SDK custom spans: three misses before OTel was configured, three hits
    assert len(out["custom"]) == 6
    assert [c["data"].get("agentcache.outcome") for c in out["custom"]] == ["miss"] * 3 + [
        "hit"
    ] * 3
    assert all(c["data"]["namespace"] == "default" for c in out["custom"])


WITHOUT_EXTRA_SCRIPT = """
import asyncio, json, sys
from agents import RunConfig, Runner

# openai-agents itself imports opentelemetry.trace (through mcp); hide the part only the
# plugin needs, as an environment without the extra's opentelemetry-api would.
sys.modules["opentelemetry.metrics"] = None
import agentcache
from tests.support import TurnModel, weather_agent

async def main():
    cached = agentcache.CachedModel(TurnModel())
    result = await Runner.run(weather_agent(), "weather?", run_config=RunConfig(model=cached))
    (otel,) = [s for s in agentcache.get_plugins().report if s.name == "otel"]
    print(json.dumps({"loaded": otel.loaded, "hint": otel.hint, "error": otel.error,
                      "stages": [s.name for s in cached.stages], "output": result.final_output}))

asyncio.run(main())
"""


def test_without_the_extra_the_plugin_reports_an_install_hint() -> None:
    """Today opentelemetry-api comes with openai-agents (its mcp dependency requires it), so the
    extra is nearly always satisfied; when it is not, the user gets the install hint."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_EXTRA_SCRIPT)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] is False
    assert out["error"].startswith("ModuleNotFoundError")
    assert out["hint"] == "pip install 'agentcache-middleware[otel]'"
    assert "otel" not in out["stages"]
    assert out["output"] == "Sunny, 69.8F in Paris"


# -- streamed calls: one span per call, ended when the stream completes or is abandoned --

LONG = "The capital of Australia is Canberra, chosen as a compromise between Sydney and Melbourne."


def text_model(**options: Any) -> TurnModel:
    inner = TurnModel([lambda ids: [assistant_message(LONG, item_id=f"msg_{ids}")]], **options)
    inner.model = "scripted-4o"  # type: ignore[attr-defined]
    return inner


async def run_streamed(cached: CachedModel, agent: Agent[Any] | None = None) -> Any:
    result = Runner.run_streamed(
        agent or weather_agent(), "weather?", run_config=RunConfig(model=cached)
    )
    async for _ in result.stream_events():
        pass
    await cached.flush()
    return result


async def test_streamed_miss_then_hit(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options())
    await run_streamed(cached)
    misses = otel.spans("agentcache.stream_response")
    assert outcomes(misses) == ["miss"] * 3
    assert otel.spans("agentcache.get_response") == []
    for span in misses:
        a = attrs(span)
        assert a["agentcache.streamed"] is True
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (50, 10)
        assert sorted(otel.children(span)) == [
            "agentcache.lookup",
            "agentcache.model",
            "agentcache.store_write",
        ]
        assert "agentcache.abandoned" not in a

    otel.exporter.clear()
    result = await run_streamed(cached)
    assert result.final_output == "Sunny, 69.8F in Paris"
    hits = otel.spans("agentcache.stream_response")
    assert outcomes(hits) == ["hit"] * 3
    for span in hits:
        a = attrs(span)
        assert (a["agentcache.layer"], a["agentcache.tokens_saved"]) == ("exact", 60)
        assert otel.children(span) == ["agentcache.lookup"]
    assert otel.counts("agentcache.calls") == {
        (("agentcache.outcome", "miss"),): 3,
        (("agentcache.layer", "exact"), ("agentcache.outcome", "hit")): 3,
    }


async def test_streamed_and_unary_calls_share_entries_and_say_which_they_were(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options())
    await run(cached)
    await run_streamed(cached)
    streamed = otel.spans("agentcache.stream_response")
    assert outcomes(otel.spans("agentcache.get_response")) == ["miss"] * 3
    assert outcomes(streamed) == ["hit"] * 3
    assert [attrs(s)["agentcache.streamed"] for s in streamed] == [True] * 3


async def test_streamed_bypass(otel: Otel) -> None:
    cached = CachedModel(scripted(), options=otel.options())
    with agentcache.no_cache():
        result = await run_streamed(cached)
    assert result.final_output == "Sunny, 69.8F in Paris"
    calls = otel.spans("agentcache.stream_response")
    assert outcomes(calls) == ["bypass"] * 3
    for span in calls:
        assert attrs(span)["agentcache.bypass_reason"] == "no_cache"
        assert otel.children(span) == ["agentcache.model"]


async def test_abandoned_stream_via_run_cancel(otel: Otel) -> None:
    inner = text_model(event_delay=0.01)
    cached = CachedModel(inner, options=otel.options())
    agent = Agent(name="plain", instructions="Answer briefly.")
    result = Runner.run_streamed(agent, "capital?", run_config=RunConfig(model=cached))
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_item.added":
            result.cancel()
    await cached.flush()
    await asyncio.sleep(0.05)
    (call,) = otel.spans("agentcache.stream_response")  # finished: the span was ended
    a = attrs(call)
    assert a["agentcache.abandoned"] is True
    assert a["agentcache.outcome"] == "miss"  # what the state says: it was on its way to a miss
    assert call.status.status_code is not StatusCode.ERROR
    assert call.end_time is not None
    (model,) = otel.spans("agentcache.model")
    assert attrs(model)["agentcache.abandoned"] is True
    assert model.status.status_code is not StatusCode.ERROR
    assert otel.spans("agentcache.store_write") == []  # nothing stored
    assert cached.stats().stores == 0
    assert otel.counts("agentcache.calls") == {(("agentcache.outcome", "miss"),): 1}
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_abandoned_stream_via_closing_the_iterator(otel: Otel) -> None:
    cached = CachedModel(text_model(), options=otel.options())
    agent = Agent(name="plain", instructions="Answer briefly.")
    tracing = ModelTracing.DISABLED
    events = cached.stream_response(
        agent.instructions, "capital?", agent.model_settings, [], None, [], tracing
    )
    first = await anext(events)
    assert first.type == "response.created"
    await events.aclose()  # type: ignore[attr-defined]
    await cached.flush()
    (call,) = otel.spans("agentcache.stream_response")
    assert attrs(call)["agentcache.abandoned"] is True
    assert call.status.status_code is not StatusCode.ERROR
    assert [s.name for s in otel.spans()] == ["agentcache.stream_response", "agentcache.lookup",
                                              "agentcache.model"]  # fmt: skip


async def test_stream_error_is_an_error(otel: Otel) -> None:
    cached = CachedModel(text_model(stream_error_after=3), options=otel.options())
    agent = Agent(name="plain", instructions="Answer briefly.")
    with pytest.raises(RuntimeError, match="stream broke"):
        await run_streamed(cached, agent)
    (call,) = otel.spans("agentcache.stream_response")
    assert attrs(call)["agentcache.outcome"] == "error"
    assert "agentcache.abandoned" not in attrs(call)
    assert call.status.status_code is StatusCode.ERROR


# -- layers other than exact: single-flight followers, and a semantic layer's similarity --


async def test_concurrent_identical_misses_show_one_miss_and_coalesced_hits(otel: Otel) -> None:
    inner = scripted()
    inner.latency = 0.05
    cached = CachedModel(inner, options=otel.options())
    await asyncio.gather(*(run(cached) for _ in range(3)))
    calls = otel.spans("agentcache.get_response")
    layers = sorted(
        (attrs(s)["agentcache.outcome"], attrs(s).get("agentcache.layer", "-")) for s in calls
    )
    assert layers == [("hit", "coalesced")] * 6 + [("miss", "-")] * 3
    assert len(inner.calls) == 3
    assert otel.counts("agentcache.tokens_saved") == {(("agentcache.layer", "coalesced"),): 360}


class ParaphraseLayer:
    """A small semantic layer: answers any call whose last input mentions "forecast" with the
    entry stored for "weather?", reporting a similarity, and marks its lookup as a step."""

    name = "paraphrase"
    order = ORDER_SEMANTIC

    def __init__(self, context: StageContext) -> None:
        self.tracer = context.tracer
        self.entries: dict[int, Entry] = {}

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        if not call.cacheable:
            return await call_next(call)
        turn = sum(1 for i in call.input if isinstance(i, dict) and "output" in i)
        last = call.input[-1] if isinstance(call.input, list) else call.input
        with self.tracer.span("semantic_lookup", call):
            await asyncio.sleep(0)
            entry = self.entries.get(turn) if "forecast" in json.dumps(last) else None
        if entry is not None:
            call.state.outcome, call.state.layer, call.state.entry = "hit", "semantic", entry
            call.state.info["similarity"] = 0.93
            return to_response(entry)
        response = await call_next(call)
        if call.state.entry is not None:
            self.entries[turn] = call.state.entry
        return response


class ParaphrasePlugin:
    @hookimpl
    def agentcache_stages(self, context: StageContext) -> list[ParaphraseLayer]:
        return [ParaphraseLayer(context)]


async def test_a_semantic_hit_carries_its_layer_similarity_and_lookup_step(otel: Otel) -> None:
    plugins = Plugins()
    plugins.register(ParaphrasePlugin())
    cached = CachedModel(scripted(), plugins=plugins, options=otel.options())
    await run(cached, "weather?")
    otel.exporter.clear()
    await run(cached, "what's the forecast?")
    (first, *_) = otel.spans("agentcache.get_response")
    a = attrs(first)
    assert (a["agentcache.outcome"], a["agentcache.layer"]) == ("hit", "semantic")
    assert a["agentcache.similarity"] == pytest.approx(0.93)
    assert a["agentcache.tokens_saved"] == 60
    assert otel.children(first) == ["agentcache.lookup", "agentcache.semantic_lookup"]
    assert otel.counts("agentcache.tokens_saved")[(("agentcache.layer", "semantic"),)] >= 60


def test_gen_ai_system_is_named_for_openai_models_only() -> None:
    from agents import OpenAIResponsesModel
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")  # never called
    openai_model = CachedModel(OpenAIResponsesModel("gpt-4.1-mini", client))
    scripted_model = CachedModel(scripted())
    args = (None, "hi", ModelSettings(), [], None, [], ModelTracing.DISABLED, None, None, None)
    for cached, expected in ((openai_model, "openai"), (scripted_model, None)):
        telemetry = cached.tracer
        assert isinstance(telemetry, agentcache_otel.Telemetry)
        static = telemetry.static_attributes(cached._call(args, streamed=False))
        assert static.get("gen_ai.system") == expected
        assert static["gen_ai.operation.name"] == "chat"
    assert (
        telemetry.static_attributes(scripted_model._call(args, streamed=False))[
            "gen_ai.request.model"
        ]
        == "scripted-4o"
    )
