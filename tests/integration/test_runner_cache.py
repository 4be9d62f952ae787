"""The cache seen through the real ``Runner.run``: transparency, keys, bypasses, stores."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool
from agents.items import ModelResponse
from agents.testing import ScriptedModel, assistant_message, function_call
from pydantic import BaseModel

import agentcache
from agentcache import CachedModel, FileStore, MemoryStore, explain_difference
from tests.support import TurnModel, convert_temperature, weather_agent

PROMPT = "What's the weather in Paris in Fahrenheit?"


async def run(model: agentcache.CachedModel, agent: Agent[Any] | None = None, **kw: Any) -> Any:
    result = await Runner.run(
        agent or weather_agent(), PROMPT, run_config=RunConfig(model=model), **kw
    )
    await model.flush()
    return result


def raw(result: Any) -> list[Any]:
    return [(type(i).__name__, i.raw_item) for i in result.new_items]


async def test_second_run_makes_no_inner_calls_and_is_identical() -> None:
    inner = ScriptedModel(
        [
            [function_call("get_weather", {"city": "Paris"}, call_id="call_a")],
            [function_call("convert_temperature", {"celsius": 21}, call_id="call_b")],
            [assistant_message("Sunny, 69.8F in Paris")],
        ]
    )
    cached = CachedModel(inner)
    first = await run(cached)
    second = await run(cached)

    assert len(inner.calls) == 3 and inner.remaining_steps == 0
    assert second.final_output == first.final_output == "Sunny, 69.8F in Paris"
    assert raw(second) == raw(first)  # same item types, same tool calls, same messages
    assert [type(r) for r in second.raw_responses] == [ModelResponse] * 3
    stats = cached.stats()
    assert (stats.misses, stats.hits, stats.stores) == (3, 3, 3)
    assert stats.hit_rate == 0.5


async def test_hit_usage_is_zero_and_savings_are_recorded() -> None:
    inner = TurnModel(latency=0.01)
    cached = CachedModel(inner)
    await run(cached)
    second = await run(cached)
    assert second.context_wrapper.usage.total_tokens == 0
    assert all(r.usage.requests == 0 for r in second.raw_responses)
    assert cached.stats().tokens_saved == 3 * inner.usage.total_tokens
    assert cached.stats().seconds_saved > 0

    replaying = CachedModel(inner, store=cached.store, replay_usage=True)
    third = await run(replaying)
    assert third.context_wrapper.usage.total_tokens == 3 * inner.usage.total_tokens
    assert len(inner.calls) == 3


async def test_rerun_with_fresh_ids_hits_every_later_turn() -> None:
    """Provider ids differ per run; the key ignores them, so a live turn 1 still leads to hits."""
    inner = TurnModel(random_ids=True)
    cached = CachedModel(inner)
    first = await run(cached)
    first_keys = [c.key for c in cached.recent_calls]
    await cached.store.delete(first_keys[0])  # turn 1 must be answered live, with new ids

    second = await run(cached)
    assert len(inner.calls) == 4  # 3 for the first run, only turn 1 again
    assert [c.key for c in cached.recent_calls][3:] == first_keys
    assert cached.stats().hits == 2
    assert second.final_output == first.final_output
    # the ids really were different: the second run's tool call came from the new turn 1
    assert raw(second)[0][1].call_id != raw(first)[0][1].call_id


async def test_two_live_runs_with_different_ids_have_equal_keys() -> None:
    a, b = CachedModel(TurnModel()), CachedModel(TurnModel())
    await run(a)
    await run(b)
    assert [c.key for c in a.recent_calls] == [c.key for c in b.recent_calls]


class Forecast(BaseModel):
    summary: str


@function_tool
def get_weather(city: str, unit: str) -> str:  # same name, different schema
    """Current weather for a city."""
    return city


@pytest.mark.parametrize(
    ("change", "part"),
    [
        ({"model_settings": ModelSettings(temperature=0.9)}, "settings.temperature"),
        ({"instructions": "Answer in French."}, "instructions"),
        ({"output_type": Forecast}, "output_schema"),
        ({"tools": [get_weather, convert_temperature]}, "tools.tools[0].parameters"),
    ],
    ids=["temperature", "instructions", "output_type", "tool_schema"],
)
async def test_answer_changing_differences_miss(change: dict[str, Any], part: str) -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    await run(cached, weather_agent())
    calls_before = len(inner.calls)
    changed = weather_agent(**change)
    if "output_type" in change:
        inner.turns[2] = lambda ids: [assistant_message('{"summary": "sunny"}')]
    # a changed tool list may end the conversation differently; only turn 1 matters here
    with contextlib.suppress(Exception):
        await Runner.run(changed, PROMPT, run_config=RunConfig(model=cached), max_turns=2)
    assert len(inner.calls) > calls_before, "a changed request must reach the model"
    first, changed_call = cached.recent_calls[0], cached.recent_calls[3]
    differences = [d.path for d in explain_difference(first, changed_call)]
    assert any(p.startswith(part) for p in differences), differences


async def test_server_side_state_bypasses() -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    await run(cached, previous_response_id="resp_-1_prev")
    await run(cached, previous_response_id="resp_-1_prev")
    assert len(inner.calls) == 6
    assert cached.stats().bypasses == {"previous_response_id": 6}
    assert cached.stats().hits == 0 and cached.stats().stores == 0


async def test_conversation_id_bypasses() -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    await run(cached, conversation_id="conv_1")
    assert cached.stats().bypasses == {"conversation_id": 3}


async def test_file_store_persists_across_instances(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'cache'}"
    first = await run(CachedModel(TurnModel(), store=url))
    inner = TurnModel()
    again = CachedModel(inner, store=url)
    second = await run(again)
    assert inner.calls == [] and second.final_output == first.final_output
    files = sorted((tmp_path / "cache" / "default").glob("*.json"))
    assert len(files) == 3
    doc = json.loads(files[0].read_text())
    assert doc["value"]["format"] == "agentcache.entry"  # reviewable JSON, not a blob


async def test_file_store_survives_corrupted_files(tmp_path: Path, caplog: Any) -> None:
    directory = tmp_path / "cache"
    cached = CachedModel(TurnModel(), store=FileStore(directory))
    await run(cached)
    files = sorted((directory / "default").glob("*.json"))
    files[0].write_bytes(files[0].read_bytes()[:40])  # truncated file
    doc = json.loads(files[1].read_text())
    doc["value"]["output"] = [{"type": "no_such_item"}]  # valid JSON, unreadable entry
    files[1].write_text(json.dumps(doc))

    inner = TurnModel()
    again = CachedModel(inner, store=FileStore(directory))
    result = await run(again)
    assert result.final_output == "Sunny, 69.8F in Paris"
    assert len(inner.calls) == 2  # the two damaged turns went to the model, the third hit
    # both counted: the truncated file (not JSON) and the entry the SDK cannot read
    assert again.stats().errors.get("corrupt_entry") == 2
    assert again.stats().stores == 2  # both rewritten
    third = CachedModel(TurnModel(), store=FileStore(directory))
    await run(third)
    assert third.stats().hits == 3


async def test_agent_model_and_provider_are_accepted() -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    agent = weather_agent(model=cached)
    await Runner.run(agent, PROMPT)
    await cached.flush()
    await Runner.run(agent, PROMPT)
    assert len(inner.calls) == 3 and cached.stats().hits == 3


class OneModelProvider(agentcache.CachedModelProvider.__mro__[1]):  # type: ignore[misc]
    def __init__(self, model: TurnModel) -> None:
        self.model, self.names = model, []

    def get_model(self, model_name: str | None) -> TurnModel:
        self.names.append(model_name)
        return self.model


async def test_cached_model_provider_caches_every_agent() -> None:
    inner = TurnModel()
    provider = agentcache.CachedModelProvider(OneModelProvider(inner))
    config = RunConfig(model_provider=provider)
    agent = weather_agent(model="gpt-test")
    await Runner.run(agent, PROMPT, run_config=config)
    await provider.flush()
    await Runner.run(agent, PROMPT, run_config=config)
    assert len(inner.calls) == 3
    assert provider.stats().hits == 3


async def test_generated_prompt_cache_key_does_not_break_hits() -> None:
    """The Runner adds a per-run ``prompt_cache_key`` for models that support it."""

    class PromptCachingModel(TurnModel):
        def _supports_default_prompt_cache_key(self) -> bool:
            return True

    inner = PromptCachingModel()
    cached = CachedModel(inner)
    await run(cached)
    await run(cached)
    keys = [c.model_settings.extra_args for c in cached.recent_calls]
    assert keys[0] and keys[0]["prompt_cache_key"] != keys[3]["prompt_cache_key"]
    assert len(inner.calls) == 3 and cached.stats().hits == 3


async def test_per_call_controls() -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    with agentcache.no_cache():
        await run(cached)
    assert cached.stats().bypasses == {"no_cache": 3} and cached.stats().stores == 0
    with agentcache.no_store():
        await run(cached)
    assert cached.stats().stores == 0 and len(inner.calls) == 6
    await run(cached)
    assert cached.stats().stores == 3
    with agentcache.refresh():
        await run(cached)
    assert len(inner.calls) == 12 and cached.stats().stores == 6
    with agentcache.namespace("tenant-b"):
        await run(cached)
    assert len(inner.calls) == 15
    await run(cached)  # back in the default namespace: hits
    assert len(inner.calls) == 15
    assert await cached.store.size("tenant-b") == 3


async def test_ttl_control_expires_entries() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    inner = TurnModel()
    cached = CachedModel(inner, store=store, ttl=3600)
    with agentcache.ttl(5):
        await run(cached)
    now[0] += 4
    await run(cached)
    assert len(inner.calls) == 3
    now[0] += 2
    await run(cached)
    assert len(inner.calls) == 6


async def test_disabled_bypasses() -> None:
    inner = TurnModel()
    cached = CachedModel(inner, enabled=False)
    await run(cached)
    await run(cached)
    assert len(inner.calls) == 6 and cached.stats().bypasses == {"disabled": 6}


async def test_unkeyable_setting_bypasses_naming_the_field(caplog: Any) -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    agent = weather_agent(model_settings=ModelSettings(extra_args={"callback": print}))
    with caplog.at_level("WARNING", logger="agentcache"):
        result = await run(cached, agent)
    assert result.final_output == "Sunny, 69.8F in Paris"
    assert cached.stats().bypasses == {"unkeyable_input": 3}
    assert "model_settings.extra_args.callback" in caplog.text
    assert caplog.text.count("unkeyable") <= 1  # logged once, not once per call


async def test_metadata_is_not_in_the_key() -> None:
    """metadata tags the request for dashboards; the answer is the same, so calls share keys.

    (The SDK itself validates metadata as ``dict[str, str]``, so an object cannot get there.)
    """
    inner = TurnModel()
    cached = CachedModel(inner)
    await run(
        cached, weather_agent(model_settings=ModelSettings(temperature=0.2, metadata={"run": "1"}))
    )
    await run(
        cached, weather_agent(model_settings=ModelSettings(temperature=0.2, metadata={"run": "2"}))
    )
    assert len(inner.calls) == 3


def test_bad_configuration_is_a_clear_error() -> None:
    with pytest.raises(agentcache.KeyEncodingError, match=r"key_extras\.client"):
        CachedModel(TurnModel(), key_extras={"client": object()})
    with pytest.raises(ValueError, match="ttl"):
        CachedModel(TurnModel(), ttl=0)
    with pytest.raises(ValueError, match=r"memory://.*file://|file://.*memory://"):
        CachedModel(TurnModel(), store="nosuch://x")
    with pytest.raises(TypeError, match=r"agents\.Model"):
        CachedModel(object())  # type: ignore[arg-type]


async def test_a_plugin_whose_hooks_raise_is_left_out(caplog: Any) -> None:
    class Broken:
        @agentcache.hookimpl
        def agentcache_stages(self, context: agentcache.StageContext) -> list[agentcache.Stage]:
            raise RuntimeError("stage factory bug")

        @agentcache.hookimpl
        def agentcache_store_schemes(self) -> dict[str, Any]:
            raise RuntimeError("scheme bug")

    plugins = agentcache.Plugins(load_entry_points=False)
    plugins.register(Broken(), name="broken")
    inner = TurnModel()
    cached = CachedModel(inner, store="memory://", plugins=plugins)
    await run(cached)
    await run(cached)
    assert len(inner.calls) == 3
    assert "stage factory bug" in caplog.text and "scheme bug" in caplog.text
