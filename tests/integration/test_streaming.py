"""Streamed turns through the real ``Runner.run_streamed``: cached, replayed, and faithful.

The inner model is ``tests.support.TurnModel``, whose live streams are made by the SDK's own
``ScriptedModel`` (an event synthesis independent of ours), or a ``ScriptedModel`` with exact
event sequences for the failure cases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, ModelSettings, RunConfig, Runner
from agents.items import ModelResponse
from agents.testing import ModelStep, ScriptedModel, assistant_message
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseReasoningItem,
    ResponseStreamEvent,
)
from openai.types.responses.response_reasoning_item import Summary
from pydantic import TypeAdapter

from agentcache import CachedModel
from tests.support import TurnModel, weather_agent

LONG = "The capital of Australia is Canberra, chosen as a compromise between Sydney and Melbourne."


def text_turns(text: str = LONG) -> list[Any]:
    return [lambda ids: [assistant_message(text, item_id=f"msg_{ids}")]]


def reasoning_turns() -> list[Any]:
    def turn(ids: str) -> list[Any]:
        reasoning = ResponseReasoningItem(
            id=f"rs_{ids}",
            type="reasoning",
            summary=[Summary(type="summary_text", text="The user asks for a capital; recall it.")],
        )
        return [reasoning, assistant_message(LONG, item_id=f"msg_{ids}")]

    return [turn]


def plain_agent() -> Agent[Any]:
    return Agent(name="plain", instructions="Answer briefly.")


class Seen:
    """What a consumer of ``stream_events()`` saw."""

    def __init__(self) -> None:
        self.items: list[str] = []  # RunItemStreamEvent names, in order
        self.raw: list[Any] = []  # the model's Responses events

    @property
    def raw_types(self) -> list[str]:
        """Event types with runs of one delta type collapsed: chunking may differ, nothing else."""
        types: list[str] = []
        for event in self.raw:
            if not (event.type.endswith(".delta") and types and types[-1] == event.type):
                types.append(event.type)
        return types

    def text(self, kind: str = "response.output_text.delta") -> str:
        return "".join(e.delta for e in self.raw if e.type == kind)


async def run_streamed(
    model: CachedModel | Any, agent: Agent[Any] | None = None, prompt: str = "weather in Paris?"
) -> tuple[Any, Seen]:
    result = Runner.run_streamed(
        agent or weather_agent(), prompt, run_config=RunConfig(model=model)
    )
    seen = Seen()
    async for event in result.stream_events():
        if event.type == "run_item_stream_event":
            seen.items.append(event.name)
        elif event.type == "raw_response_event":
            seen.raw.append(event.data)
    if isinstance(model, CachedModel):
        await model.flush()
    return result, seen


def outputs(result: Any) -> list[list[dict[str, Any]]]:
    return [[i.model_dump(exclude_unset=True) for i in r.output] for r in result.raw_responses]


def assert_valid_stream(raw: list[Any]) -> None:
    """Per response: sequence numbers 0, 1, 2...; created first, completed last; every opened
    item and content part is closed; the completed response carries every done item."""
    responses: list[list[Any]] = []
    for event in raw:
        if event.type == "response.created":
            responses.append([])
        responses[-1].append(event)
    for events in responses:
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert events[0].type == "response.created" and events[-1].type == "response.completed"
        added = [e.output_index for e in events if e.type == "response.output_item.added"]
        done = [e for e in events if e.type == "response.output_item.done"]
        assert added == [e.output_index for e in done] == list(range(len(done)))
        parts = [e.type for e in events if e.type.startswith("response.content_part.")]
        assert parts.count("response.content_part.added") == parts.count(
            "response.content_part.done"
        )
        final = events[-1].response
        assert final.status == "completed"
        assert [i.model_dump() for i in final.output] == [e.item.model_dump() for e in done]


@pytest.mark.parametrize(
    ("turns", "agent"),
    [
        pytest.param(text_turns, plain_agent, id="text"),
        pytest.param(None, weather_agent, id="tool-calls-then-text"),
        pytest.param(reasoning_turns, plain_agent, id="reasoning"),
    ],
)
async def test_streamed_hit_is_indistinguishable_from_the_live_stream(
    turns: Any, agent: Any
) -> None:
    inner = TurnModel(turns() if turns else None)
    cached = CachedModel(inner)
    live, live_seen = await run_streamed(cached, agent())
    calls = len(inner.calls)
    hit, hit_seen = await run_streamed(cached, agent())

    assert len(inner.calls) == calls and cached.stats().hits == calls
    assert hit.final_output == live.final_output
    assert hit_seen.items == live_seen.items and hit_seen.items  # same RunItemStreamEvents
    assert hit_seen.raw_types == live_seen.raw_types  # same event kinds, same order
    assert hit_seen.text() == live_seen.text()
    assert outputs(hit) == outputs(live)  # the same items reach the Runner
    assert_valid_stream(hit_seen.raw)
    if turns is reasoning_turns:
        assert hit_seen.text("response.reasoning_summary_text.delta") == (
            "The user asks for a capital; recall it."
        )


async def test_text_is_replayed_in_chunks() -> None:
    cached = CachedModel(TurnModel(text_turns()), stream_chunk_chars=10)
    await run_streamed(cached, plain_agent())
    _, seen = await run_streamed(cached, plain_agent())
    deltas = [e.delta for e in seen.raw if e.type == "response.output_text.delta"]
    assert len(deltas) == -(-len(LONG) // 10) and max(map(len, deltas)) == 10
    assert "".join(deltas) == LONG


async def test_streamed_and_unary_calls_share_entries() -> None:
    inner = TurnModel()
    streamed_first = CachedModel(inner)
    live, _ = await run_streamed(streamed_first)
    unary = await Runner.run(
        weather_agent(), "weather in Paris?", run_config=RunConfig(model=streamed_first)
    )
    assert len(inner.calls) == 3 and streamed_first.stats().hits == 3
    assert unary.final_output == live.final_output and outputs(unary) == outputs(live)

    unary_first = CachedModel(inner)
    await Runner.run(weather_agent(), "weather in Paris?", run_config=RunConfig(model=unary_first))
    await unary_first.flush()
    replayed, seen = await run_streamed(unary_first)
    assert len(inner.calls) == 6 and unary_first.stats().hits == 3
    assert replayed.final_output == live.final_output
    assert_valid_stream(seen.raw)


async def test_a_hit_reports_zero_usage_unless_replayed() -> None:
    inner = TurnModel()
    cached = CachedModel(inner)
    await run_streamed(cached)
    hit, _ = await run_streamed(cached)
    assert hit.context_wrapper.usage.total_tokens == 0
    assert hit.context_wrapper.usage.requests == 0

    replaying = CachedModel(inner, store=cached.store, replay_usage=True)
    replayed, _ = await run_streamed(replaying)
    assert replayed.context_wrapper.usage.total_tokens == 3 * inner.usage.total_tokens


async def test_a_miss_hands_over_each_event_as_it_arrives() -> None:
    """The model sends its second event only after the caller saw the first: a cache that
    buffered the stream until it completed would wait forever here."""
    caller_saw_first = asyncio.Event()
    answer = ModelResponse(output=[assistant_message(LONG)], usage=Usage(), response_id="r1")
    live_events = [e async for e in _scripted_stream(answer)]

    async def gated(_call: Any) -> AsyncIterator[Any]:
        yield live_events[0]
        await caller_saw_first.wait()
        for event in live_events[1:]:
            yield event

    cached = CachedModel(ScriptedModel([ModelStep.stream(gated)]))
    result = Runner.run_streamed(plain_agent(), "capital?", run_config=RunConfig(model=cached))

    async def consume() -> None:
        async for event in result.stream_events():
            if event.type == "raw_response_event":
                caller_saw_first.set()

    await asyncio.wait_for(consume(), timeout=10)
    await cached.flush()
    assert result.final_output == LONG and cached.stats().stores == 1


async def test_an_error_mid_stream_reaches_the_caller_and_stores_nothing() -> None:
    bare = TurnModel(text_turns(), stream_error_after=4)
    with pytest.raises(RuntimeError) as without_cache:
        await run_streamed(bare, plain_agent())

    inner = TurnModel(text_turns(), stream_error_after=4)
    cached = CachedModel(inner)
    with pytest.raises(RuntimeError) as with_cache:
        await run_streamed(cached, plain_agent())
    assert str(with_cache.value) == str(without_cache.value) == "stream broke"
    assert await cached.store.size() == 0 and cached.stats().stores == 0

    inner.stream_error_after = None  # the next attempt completes: now it is stored and served
    await run_streamed(cached, plain_agent())
    await run_streamed(cached, plain_agent())
    assert cached.stats().stores == 1 and cached.stats().hits == 1


async def test_a_cancelled_run_stores_nothing_and_closes_the_model_stream() -> None:
    inner = TurnModel(text_turns(), event_delay=0.01)
    cached = CachedModel(inner)
    result = Runner.run_streamed(plain_agent(), "capital?", run_config=RunConfig(model=cached))
    async for event in result.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_item.added":
            result.cancel()
    await cached.flush()
    await asyncio.sleep(0.05)  # a stream that was left running would send more events by now
    assert inner.events_sent < 8  # the full stream has 9 events
    assert await cached.store.size() == 0 and cached.stats().stores == 0


async def test_a_consumer_that_closes_the_stream_early_stores_nothing() -> None:
    inner = TurnModel(text_turns())
    cached = CachedModel(inner)
    agent = plain_agent()
    events = cached.stream_response(
        agent.instructions, "capital?", agent.model_settings, [], None, [], _tracing()
    )
    first = await anext(events)
    assert first.type == "response.created"
    await events.aclose()  # type: ignore[attr-defined]
    await cached.flush()
    assert inner.events_sent == 1
    assert await cached.store.size() == 0 and cached.stats().misses == 1


@pytest.mark.parametrize("terminal", ["response.failed", "response.incomplete"])
async def test_a_failed_or_incomplete_stream_stores_nothing(terminal: str) -> None:
    def steps() -> list[ModelStep]:
        partial = Response(
            id="resp_x",
            created_at=0,
            model="m",
            object="response",
            output=[],
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
            status="failed" if terminal == "response.failed" else "incomplete",
        )
        events = [
            {"type": "response.created", "response": partial, "sequence_number": 0},
            {"type": terminal, "response": partial, "sequence_number": 1},
        ]
        parsed = [TypeAdapter(ResponseStreamEvent).validate_python(e) for e in events]
        return [ModelStep.stream(parsed)]

    with pytest.raises(Exception) as without_cache:
        await run_streamed(ScriptedModel(steps()), plain_agent())
    cached = CachedModel(ScriptedModel(steps()))
    with pytest.raises(Exception) as with_cache:
        await run_streamed(cached, plain_agent())
    assert type(with_cache.value) is type(without_cache.value)
    assert str(with_cache.value) == str(without_cache.value)
    assert await cached.store.size() == 0 and cached.stats().stores == 0

    # A caller reading the raw stream to its end sees every event; the reason is counted.
    cached = CachedModel(ScriptedModel(steps()))
    agent = plain_agent()
    events = cached.stream_response(
        agent.instructions, "capital?", agent.model_settings, [], None, [], _tracing()
    )
    assert [e.type async for e in events] == ["response.created", terminal]
    await cached.flush()
    reason = "stream_failed" if terminal == "response.failed" else "stream_incomplete"
    assert cached.stats().not_stored == {reason: 1} and await cached.store.size() == 0


@pytest.mark.parametrize("kind", ["refusal", "empty_output"])
async def test_a_refusal_or_empty_stream_is_not_stored(kind: str) -> None:
    def turn(ids: str) -> list[Any]:
        if kind == "empty_output":
            return []
        refusal = ResponseOutputRefusal(type="refusal", refusal="I can't help with that.")
        return [
            ResponseOutputMessage(
                id=f"msg_{ids}",
                type="message",
                role="assistant",
                status="completed",
                content=[refusal],
            )
        ]

    async def outcome(model: Any) -> tuple[str, Any]:
        try:
            result, _ = await run_streamed(model, plain_agent())
        except Exception as exc:  # the Runner's own verdict on such a turn, whatever it is
            return "raised", (type(exc), str(exc))
        return "ok", result.final_output

    cached = CachedModel(TurnModel([turn]))
    assert await outcome(cached) == await outcome(TurnModel([turn]))
    await cached.flush()
    assert cached.stats().not_stored == {kind: 1} and await cached.store.size() == 0


async def test_twenty_concurrent_identical_streamed_runs_make_one_inner_call_per_turn() -> None:
    inner = TurnModel(latency=0.05, event_delay=0.002)
    cached = CachedModel(inner)
    runs = await asyncio.gather(*(run_streamed(cached) for _ in range(20)))
    assert len(inner.calls) == 3  # one per turn: followers replay the leader's answer
    assert {r.final_output for r, _ in runs} == {"Sunny, 69.8F in Paris"}
    assert len({tuple(seen.items) for _, seen in runs}) == 1
    for _, seen in runs:
        assert_valid_stream(seen.raw)
    stats = cached.stats()
    assert stats.misses == 3 and stats.hits_by_layer == {"coalesced": 57}


async def test_replay_pacing_is_off_by_default_and_can_be_turned_on() -> None:
    cached = CachedModel(TurnModel(text_turns()), stream_chunk_chars=30, stream_delay=0.02)
    await run_streamed(cached, plain_agent())
    started = time.perf_counter()
    _, seen = await run_streamed(cached, plain_agent())
    deltas = sum(e.type == "response.output_text.delta" for e in seen.raw)
    assert deltas == 3 and time.perf_counter() - started >= deltas * 0.02


async def test_a_paced_replay_never_outlasts_the_calls_timeout() -> None:
    """30 deltas paced 0.05 s apart would take 1.5 s; the turn's timeout is 0.4 s. The replay
    is paced faster (within half the timeout) rather than turning a hit into a timeout."""
    timed = Agent(name="timed", instructions="Answer.", model_settings=ModelSettings(timeout=0.4))
    cached = CachedModel(TurnModel(text_turns()), stream_chunk_chars=3, stream_delay=0.05)
    await run_streamed(cached, timed)
    result, seen = await run_streamed(cached, timed)
    assert sum(e.type == "response.output_text.delta" for e in seen.raw) == 30
    assert result.final_output == LONG and cached.stats().hits == 1


def test_bad_stream_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="stream_chunk_chars"):
        CachedModel(TurnModel(), stream_chunk_chars=0)
    with pytest.raises(ValueError, match="stream_delay"):
        CachedModel(TurnModel(), stream_delay=-1)


async def _scripted_stream(answer: ModelResponse) -> AsyncIterator[Any]:
    step = ModelStep(output=answer.output, usage=answer.usage, response_id=answer.response_id)
    agent = plain_agent()
    async for event in ScriptedModel([step]).stream_response(
        agent.instructions,
        "x",
        agent.model_settings,
        [],
        None,
        [],
        _tracing(),
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    ):
        yield event


def _tracing() -> Any:
    from agents.models.interface import ModelTracing

    return ModelTracing.DISABLED


async def test_a_bypassed_stream_passes_through_live() -> None:
    inner = TurnModel()  # with previous_response_id resp_0_*, it answers turn 1
    cached = CachedModel(inner)
    agent = plain_agent()

    async def stream() -> list[Any]:
        events = cached.stream_response(
            agent.instructions,
            "capital?",
            agent.model_settings,
            [],
            None,
            [],
            _tracing(),
            previous_response_id="resp_0_x",
        )
        return [e async for e in events]

    first, second = await stream(), await stream()
    await cached.flush()
    assert len(inner.calls) == 2 and inner.events_sent == len(first) + len(second)
    assert cached.stats().bypasses == {"previous_response_id": 2}
    assert await cached.store.size() == 0
