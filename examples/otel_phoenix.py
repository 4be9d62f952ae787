"""Watch agentcache's spans next to the Agents SDK's own spans in Arize Phoenix.

    scripts/phoenix.py                        # once: Phoenix in its own venv (prints its path)
    ~/.cache/agentcache/phoenix-venv/bin/phoenix serve &      # UI and OTLP on :6006
    .venv/bin/pip install -r examples/requirements-otel.txt
    .venv/bin/python examples/otel_phoenix.py   # then open http://127.0.0.1:6006

The agent runs twice through ``CachedModel``: the first run misses (the model is called), the
second is answered from the cache. A LOCAL SCRIPTED MODEL stands in for the LLM, so no key and
no network are needed; like a real SDK model it reports its call as a ``generation`` span in
the SDK's trace. The SDK's spans reach Phoenix through OpenInference's instrumentor
(``openinference-instrumentation-openai-agents``); agentcache's through its own ``otel``
plugin, which only needs a tracer provider to be configured.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

from agents import Agent, ModelSettings, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.tracing import generation_span
from agents.usage import Usage
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agentcache import CachedModel


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"It is 21°C and sunny in {city}."


class LocalScriptedModel(Model):
    """Stands in for an LLM: calls the tool, then answers from its output, ~0.3 s per turn."""

    model = "local-scripted"

    async def get_response(
        self, system_instructions: str | None, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        outputs = [
            i for i in input if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        usage = Usage(requests=1, input_tokens=120, output_tokens=25, total_tokens=145)
        with generation_span(model=self.model, input=[{"role": "user", "content": "..."}]) as g:
            await asyncio.sleep(0.3)
            if not outputs:
                call_id = f"call_{time.time_ns()}"
                output = [function_call("get_weather", {"city": "Paris"}, call_id=call_id)]
            else:
                output = [assistant_message(f"Weather report: {outputs[-1]['output']}")]
            g.span_data.usage = {"input_tokens": 120, "output_tokens": 25}
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("this example does not stream")


def configure(endpoint: str, project: str, instrument_sdk: bool) -> TracerProvider:
    # Phoenix files spans under the project named by this resource attribute.
    resource = Resource.create({"service.name": "agentcache-example",
                                "openinference.project.name": project})  # fmt: skip
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{endpoint}/v1/traces")))
    trace.set_tracer_provider(provider)  # agentcache's plugin reads the global provider
    if instrument_sdk:
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

        # Replaces the SDK's default trace exporter (which needs an OpenAI key) with one that
        # turns the SDK's spans into OpenTelemetry spans.
        OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
        set_tracing_disabled(False)
    else:
        set_tracing_disabled(True)
    return provider


async def run(cached: CachedModel) -> None:
    agent = Agent(
        name="weather",
        instructions="Use the get_weather tool, then answer in one sentence.",
        tools=[get_weather],
        model_settings=ModelSettings(temperature=0),
    )
    for attempt in ("first run ", "second run"):
        before = cached.stats()
        started = time.perf_counter()
        result = await Runner.run(
            agent, "What's the weather in Paris?", run_config=RunConfig(model=cached)
        )
        elapsed = time.perf_counter() - started
        await cached.flush()
        after = cached.stats()
        hits, misses = after.hits - before.hits, after.misses - before.misses
        print(f"{attempt}: {hits} hit(s), {misses} miss(es), {elapsed * 1000:7.1f} ms"
              f" -> {result.final_output}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:6006", help="Phoenix base URL")
    parser.add_argument("--project", default="agentcache-example", help="Phoenix project")
    parser.add_argument(
        "--no-sdk-spans", action="store_true", help="do not instrument the Agents SDK"
    )
    args = parser.parse_args()
    provider = configure(args.endpoint, args.project, instrument_sdk=not args.no_sdk_spans)
    print("model: LOCAL SCRIPTED MODEL (no key needed; ~0.3 s per turn)")
    with tempfile.TemporaryDirectory() as directory:
        # An on-disk store, so the lookups and writes are I/O steps with spans of their own
        # (the default memory store's are not: they get none unless asked for).
        cached = CachedModel(LocalScriptedModel(), store=f"file://{directory}", namespace="example")
        asyncio.run(run(cached))
    provider.shutdown()  # flush the batch of spans before exiting
    print(f"spans sent: open {args.endpoint}/projects and choose '{args.project}'")


if __name__ == "__main__":
    main()
