"""The cache end to end against a real model: llama.cpp's server running Gemma 3 270M.

Every other test scripts its model. Here the answers come from an LLM over HTTP through the
SDK's ``OpenAIChatCompletionsModel``: tool call ids are new on every response, streams arrive
token by token, and the server counts what reached it (``local_llm.requests``), so "the second
run never reached the model" is measured where the requests land, not inferred from our stats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    RunConfig,
    Runner,
    RunResult,
    RunResultStreaming,
    function_tool,
)
from agents.items import ModelResponse, RunItem, ToolCallItem, ToolCallOutputItem
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

from agentcache import CachedModel, explain_difference
from tests.support import load_script

PROMPT = "What's the weather in Paris?"


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"It is 21°C and sunny in {city}."


def chat_model(llm: Any) -> OpenAIChatCompletionsModel:
    """The SDK's own Chat Completions model on the local server; no retries, so every request
    the server counts is one the SDK chose to send."""
    client = AsyncOpenAI(base_url=llm.base_url, api_key="unused", max_retries=0)
    return OpenAIChatCompletionsModel(model="gemma", openai_client=client)


def weather_agent(**overrides: Any) -> Agent[Any]:
    options: dict[str, Any] = {
        "name": "weather",
        "instructions": "Use the get_weather tool, then answer in one sentence.",
        "tools": [get_weather],
        "model_settings": ModelSettings(temperature=0),
    }
    options.update(overrides)
    return Agent(**options)


def greeter(**overrides: Any) -> Agent[Any]:
    """A one-turn agent with no tools: the cheapest call that still reaches the model."""
    options: dict[str, Any] = {
        "name": "greeter",
        "instructions": "Greet the user warmly.",
        "model_settings": ModelSettings(temperature=0, max_tokens=16),
    }
    options.update(overrides)
    return Agent(**options)


def seen(items: list[RunItem]) -> list[tuple[str, Any]]:
    """What a user sees of a run's items: their types and raw items, ids included."""
    return [(type(item).__name__, _plain(item.raw_item)) for item in items]


def _plain(raw: Any) -> Any:
    """A pydantic raw item as a dict (a readable diff when items differ); dicts as they are."""
    return raw.model_dump() if hasattr(raw, "model_dump") else raw


def tool_calls(result: RunResult | RunResultStreaming) -> list[Any]:
    return [item.raw_item for item in result.new_items if isinstance(item, ToolCallItem)]


async def run(agent: Agent[Any], model: CachedModel, prompt: str = PROMPT) -> RunResult:
    return await Runner.run(agent, prompt, run_config=RunConfig(model=model))


async def run_streamed(
    agent: Agent[Any], model: CachedModel
) -> tuple[RunResultStreaming, list[str]]:
    """A streamed run consumed to the end; the text deltas it streamed, in order."""
    result = Runner.run_streamed(agent, PROMPT, run_config=RunConfig(model=model))
    deltas = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
    ]
    return result, deltas


def assert_called_the_tool(result: RunResult | RunResultStreaming) -> None:
    """The live run really used the tool; without that the test would prove nothing."""
    calls = tool_calls(result)
    assert [call.name for call in calls] == ["get_weather"], result.new_items
    assert any(isinstance(item, ToolCallOutputItem) for item in result.new_items)
    assert "Paris" in calls[0].arguments
    assert isinstance(result.final_output, str) and result.final_output.strip()


async def test_tool_run_twice_second_never_reaches_the_model(local_llm: Any) -> None:
    inner = chat_model(local_llm)
    cached = CachedModel(inner)
    agent = weather_agent()

    before = local_llm.requests
    first = await run(agent, cached)
    live = local_llm.requests - before
    assert_called_the_tool(first)
    assert live == len(first.raw_responses) == 2  # the tool call turn, then the answer

    before = local_llm.requests
    second = await run(agent, cached)
    assert local_llm.requests == before  # zero requests: both turns came from the cache
    assert second.final_output == first.final_output
    assert seen(second.new_items) == seen(first.new_items)  # same items, same call ids
    assert [type(r) for r in second.raw_responses] == [ModelResponse] * 2
    stats = cached.stats()
    assert (stats.misses, stats.hits, stats.stores) == (2, 2, 2)

    # The control: the same run with the cache disabled reaches the server again, and the
    # model mints a new call id, so the equal ids above are the cache's replay, not the
    # model's determinism.
    before = local_llm.requests
    uncached = await run(agent, CachedModel(inner, enabled=False))
    assert local_llm.requests - before == 2
    assert_called_the_tool(uncached)
    assert tool_calls(uncached)[0].call_id != tool_calls(first)[0].call_id


async def test_streamed_run_twice_replays_the_same_text(local_llm: Any) -> None:
    cached = CachedModel(chat_model(local_llm))
    agent = weather_agent()

    before = local_llm.requests
    first, first_deltas = await run_streamed(agent, cached)
    assert local_llm.requests - before == 2
    assert_called_the_tool(first)
    assert len(first_deltas) > 1  # the live answer came token by token

    before = local_llm.requests
    second, second_deltas = await run_streamed(agent, cached)
    assert local_llm.requests == before
    assert second.final_output == first.final_output
    assert "".join(second_deltas) == "".join(first_deltas) == first.final_output
    assert seen(second.new_items) == seen(first.new_items)
    assert cached.stats().hits == 2


async def test_a_changed_setting_or_instruction_reaches_the_model(local_llm: Any) -> None:
    cached = CachedModel(chat_model(local_llm))
    agent = greeter()

    before = local_llm.requests
    first = await run(agent, cached, "Hello!")
    again = await run(agent, cached, "Hello!")
    assert local_llm.requests - before == 1
    assert again.final_output == first.final_output and first.final_output.strip()

    warmer = agent.clone(model_settings=ModelSettings(temperature=0.5, max_tokens=16))
    await run(warmer, cached, "Hello!")
    assert local_llm.requests - before == 2
    difference = explain_difference(cached.recent_calls[0], cached.recent_calls[-1])
    assert [d.path for d in difference] == ["settings.temperature"], difference

    french = agent.clone(instructions="Greet the user warmly, in French.")
    await run(french, cached, "Hello!")
    assert local_llm.requests - before == 3
    difference = explain_difference(cached.recent_calls[0], cached.recent_calls[-1])
    assert [d.path for d in difference] == ["instructions"], difference


async def test_file_store_replays_in_a_new_model(local_llm: Any, tmp_path: Path) -> None:
    """``store="file://..."``: a second model on the same directory (a later process, a CI
    run with the entries committed) replays the run without reaching the server."""
    store = f"file://{tmp_path / 'cache'}"
    agent = greeter()

    before = local_llm.requests
    writer = CachedModel(chat_model(local_llm), store=store)
    first = await run(agent, writer, "Hello!")
    await writer.close()
    assert local_llm.requests - before == 1
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1

    before = local_llm.requests
    reader = CachedModel(chat_model(local_llm), store=store)
    second = await run(agent, reader, "Hello!")
    await reader.close()
    assert local_llm.requests == before
    assert second.final_output == first.final_output
    assert seen(second.new_items) == seen(first.new_items)
    assert reader.stats().hits == 1


def test_the_semantic_command_asks_a_real_judge(
    local_llm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``agentcache semantic --judge-url``: the question reaches the model, and a reply that is
    neither yes nor no (this base model continues the text) is no hit."""
    from agentcache.cli import main

    before = local_llm.requests
    new, cached = "What's the capital city of Australia?", "What is the capital of Australia?"
    code = main(["semantic", new, cached, "--judge-url", local_llm.base_url, "--judge-model", "g"])
    out = capsys.readouterr().out
    assert local_llm.requests - before == 1
    assert "judge          unclear" in out and code == 1, out


def test_a_server_that_dies_at_start_is_reported_with_its_signal(tmp_path: Path) -> None:
    """A crash (a build whose CPU kernels this machine refuses: SIGILL) is named as such, not
    reported as a server that merely did not start."""
    llm_server = load_script("llm_server")
    dies = tmp_path / "llama-server"
    dies.write_text("#!/bin/sh\necho loading model\nkill -ILL $$\n")
    dies.chmod(0o755)
    llm = llm_server.LocalLLM()
    llm.binary = dies
    with pytest.raises(llm_server.LLMServerError, match=r"died of SIGILL:\n(.|\n)*loading model"):
        llm.start(timeout=30)
