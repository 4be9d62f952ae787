"""Run an agent with a tool twice through agentcache: the second run is answered by the cache.

    python examples/quickstart.py

With OPENAI_API_KEY set it uses a real OpenAI model (gpt-4.1-mini, or $AGENTCACHE_DEMO_MODEL).
Without it, a LOCAL SCRIPTED MODEL stands in, with a realistic delay per turn, so the demo runs
anywhere with no key and no network.

With AGENTCACHE_LLM_BASE_URL set (any OpenAI-compatible Chat Completions server's /v1 root) it
uses that server's model; `scripts/demo --local-llm` starts a real local LLM (llama.cpp with
Gemma 3 270M) and sets it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

from agents import Agent, ModelSettings, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.usage import Usage

from agentcache import CachedModel


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"It is 21°C and sunny in {city}."


class LocalScriptedModel(Model):
    """Stands in for an LLM: calls the tool, then answers from its output, ~0.8 s per turn."""

    def __init__(self, delay: float = 0.8) -> None:
        self.delay = delay

    async def get_response(
        self, system_instructions, input, *args: Any, **kwargs: Any
    ) -> ModelResponse:  # type: ignore[no-untyped-def]
        await asyncio.sleep(self.delay)
        outputs = [
            i for i in input if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        usage = Usage(requests=1, input_tokens=120, output_tokens=25, total_tokens=145)
        if not outputs:
            output = [
                function_call("get_weather", {"city": "Paris"}, call_id=f"call_{time.time_ns()}")
            ]
        else:
            output = [assistant_message(f"Weather report: {outputs[-1]['output']}")]
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the demo does not stream")


def inner_model() -> tuple[Model, str]:
    base_url = os.environ.get("AGENTCACHE_LLM_BASE_URL")
    if base_url:
        from agents import OpenAIChatCompletionsModel
        from openai import AsyncOpenAI

        set_tracing_disabled(True)  # a local server: no platform to export traces to
        client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "unused"))
        name = os.environ.get("AGENTCACHE_DEMO_MODEL", "local")
        return OpenAIChatCompletionsModel(name, client), f"local LLM at {base_url}"
    if os.environ.get("OPENAI_API_KEY"):
        from agents import OpenAIResponsesModel
        from openai import AsyncOpenAI

        name = os.environ.get("AGENTCACHE_DEMO_MODEL", "gpt-4.1-mini")
        return OpenAIResponsesModel(name, AsyncOpenAI()), f"OpenAI {name}"
    set_tracing_disabled(True)  # no key: nowhere to export traces
    return LocalScriptedModel(), "LOCAL SCRIPTED MODEL (no OPENAI_API_KEY set; ~0.8 s per turn)"


async def main() -> None:
    model, label = inner_model()
    cached = CachedModel(model)  # embedded in-memory store
    agent = Agent(
        name="weather",
        instructions="Use the get_weather tool, then answer in one sentence.",
        tools=[get_weather],
        model_settings=ModelSettings(temperature=0),
    )
    print(f"model: {label}\n")
    for attempt in ("first run ", "second run"):
        before = cached.stats()
        gc.collect()  # garbage from start-up is nobody's run: neither timing pays its collection
        started = time.perf_counter()
        result = await Runner.run(
            agent, "What's the weather in Paris?", run_config=RunConfig(model=cached)
        )
        elapsed = time.perf_counter() - started
        await cached.flush()
        after = cached.stats()
        hits, misses = after.hits - before.hits, after.misses - before.misses
        outcome = "HIT " if hits and not misses else "MISS"
        print(
            f"{attempt}: {outcome} {elapsed * 1000:8.1f} ms   inner model calls: {misses}"
            f"   cache hits: {hits}   -> {result.final_output}"
        )
    stats = cached.stats()
    print(
        f"\nhit rate {stats.hit_rate:.0%}, tokens saved {stats.tokens_saved}, "
        f"seconds saved {stats.seconds_saved:.2f}"
    )
    await cached.close()


if __name__ == "__main__":
    asyncio.run(main())
