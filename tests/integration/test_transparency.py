"""Wrapping changes nothing but cost: regressions for what the SDK's own suite caught.

Each test runs the same thing with the bare model and with a ``CachedModel`` in front, through
the real ``Runner``, and compares what the agent (or the inner model) saw.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    ModelSettings,
    ModelTimeoutError,
    OpenAIChatCompletionsModel,
    RunConfig,
    Runner,
    SQLiteSession,
    function_tool,
    handoff,
    output_guardrail,
)
from agents.handoffs import HandoffInputData
from agents.items import ModelResponse
from agents.models._run_context import model_run_context
from agents.models.interface import Model
from agents.run_config import CallModelData, ModelInputData
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.usage import Usage
from agents.util._error_tracing import get_current_task_model_timeout_error
from openai import AsyncOpenAI

from agentcache import CachedModel, explain_difference
from agentcache.runs import Runs
from tests.support import TurnModel


def both(inner: Model) -> list[Model]:
    """The bare model, then the same model behind a cache."""
    return [inner, CachedModel(inner)]


# -- 1. a cached model survives the deep copies the SDK makes of run items ----------------


def _deep_copying_filter(data: HandoffInputData) -> HandoffInputData:
    # The SDK's nest_handoff_history does this; run items hold the agent, hence the model.
    return data.clone(new_items=copy.deepcopy(data.new_items))


@pytest.mark.parametrize("wrapped", [False, True])
async def test_a_handoff_filter_that_deep_copies_run_items_works(wrapped: bool) -> None:
    inner = TurnModel(
        [
            lambda ids: [function_call("transfer_to_b", {}, call_id=f"call_{ids}")],
            lambda ids: [assistant_message("B here", item_id=f"msg_{ids}")],
        ]
    )
    model = both(inner)[wrapped]
    b = Agent(name="b", model=model)
    a = Agent(name="a", model=model, handoffs=[handoff(b, input_filter=_deep_copying_filter)])
    result = await Runner.run(a, "hi")
    assert result.final_output == "B here"
    assert result.last_agent is b
    if wrapped:
        assert copy.deepcopy(model) is model


# -- 2. a stream event of any type reaches the caller; such a stream is not stored ---------


class OddEventModel(TurnModel):
    """A live stream with a plain dict among the typed events (the SDK passes it on)."""

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        yield {"type": "vendor.progress", "pct": 50}
        async for event in super().stream_response(*args, **kwargs):
            yield event


async def test_an_untyped_stream_event_reaches_the_caller_and_the_stream_is_not_stored() -> None:
    turns = [lambda ids: [assistant_message("hello", item_id=f"msg_{ids}")]]
    seen: list[list[Any]] = []
    for model in both(OddEventModel(turns)):
        result = Runner.run_streamed(Agent(name="a"), "hi", run_config=RunConfig(model=model))
        seen.append(
            [e.data async for e in result.stream_events() if e.type == "raw_response_event"]
        )
        assert result.final_output == "hello"
    bare, wrapped = seen
    assert wrapped[0] == {"type": "vendor.progress", "pct": 50}
    assert [getattr(e, "type", e) for e in wrapped] == [getattr(e, "type", e) for e in bare]
    cached = CachedModel(OddEventModel(turns))
    result = Runner.run_streamed(Agent(name="a"), "hi", run_config=RunConfig(model=cached))
    [_ async for _ in result.stream_events()]
    await cached.flush()
    assert cached.stats().not_stored == {"untyped_event": 1}
    assert await cached.store.size() == 0


# -- 3. building the key never ends a run ------------------------------------------------


@function_tool(allowed_callers=["programmatic"])
def only_from_programs(x: int) -> str:
    """A tool the Responses converter refuses without ProgrammaticToolCallingTool."""
    return str(x)


async def test_a_key_the_sdk_converter_refuses_is_a_bypass_and_the_model_decides() -> None:
    finals = []
    for model in both(TurnModel([lambda ids: [assistant_message("fine", item_id=f"m{ids}")]])):
        agent = Agent(name="a", tools=[only_from_programs])
        finals.append(
            (await Runner.run(agent, "hi", run_config=RunConfig(model=model))).final_output
        )
        if isinstance(model, CachedModel):
            assert model.stats().bypasses == {"key_error": 1}
    assert finals == ["fine", "fine"]


# -- 4. the inner model observes what it would unwrapped ---------------------------------


class NeverAnswers(Model):
    """Streams nothing until cancelled; records what its task knew when it was."""

    def __init__(self) -> None:
        self.cancelled_by: list[object] = []
        self.closed = 0

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        raise NotImplementedError

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        try:
            await asyncio.Event().wait()
            yield None
        except asyncio.CancelledError:
            self.cancelled_by.append(get_current_task_model_timeout_error())
            raise
        finally:
            self.closed += 1


async def test_a_streamed_timeout_reaches_the_inner_model_as_the_sdk_timeout() -> None:
    observed = []
    for wrapped in (False, True):
        inner = NeverAnswers()
        agent = Agent(name="a", model_settings=ModelSettings(timeout=0.05))
        result = Runner.run_streamed(agent, "hi", run_config=RunConfig(model=both(inner)[wrapped]))
        with pytest.raises(ModelTimeoutError):
            [_ async for _ in result.stream_events()]
        observed.append(([str(e) for e in inner.cancelled_by], inner.closed))
    assert observed[0] == (["Model call timed out after 0.05 seconds."], 1)
    assert observed[1] == observed[0]


class TaskSpy(TurnModel):
    """Records the task its stream runs in."""

    tasks: list[asyncio.Task[Any] | None]

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        self.tasks.append(asyncio.current_task())
        async for event in super().stream_response(*args, **kwargs):
            yield event


async def test_the_inner_stream_runs_in_the_task_that_consumes_it() -> None:
    inner = TaskSpy([lambda ids: [assistant_message("hello", item_id=f"msg_{ids}")]])
    inner.tasks = []
    cached = CachedModel(inner)
    consumer: list[asyncio.Task[Any] | None] = []

    async def consume() -> None:
        consumer.append(asyncio.current_task())
        events = cached.stream_response(None, "hi", ModelSettings(), [], None, [], None)  # type: ignore[arg-type]
        [_ async for _ in events]

    await asyncio.create_task(consume())
    assert inner.tasks == consumer


# -- 5. isinstance checks on the model's class take the bare model's branch --------------


class ScriptedChat(OpenAIChatCompletionsModel):
    """A Chat Completions model (by class) that answers from a script, not over HTTP."""

    def __init__(self) -> None:
        super().__init__("gpt-test", AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9"))
        self.script = ScriptedModel([ModelStep(output=[assistant_message("ok")])] * 4)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await self.script.get_response(*args, **kwargs)


@output_guardrail
async def allow_all(context: Any, agent: Agent[Any], output: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered=False)


async def test_output_guardrails_with_server_state_take_the_chat_completions_branch() -> None:
    wrapped = CachedModel(ScriptedChat())
    assert isinstance(wrapped, OpenAIChatCompletionsModel)
    assert isinstance(wrapped, CachedModel) and type(wrapped) is CachedModel
    finals = []
    for model in both(ScriptedChat()):
        agent = Agent(name="a", model=model, output_guardrails=[allow_all])
        result = await Runner.run(agent, "hi", previous_response_id="resp_earlier")
        finals.append(result.final_output)
    assert finals == ["ok", "ok"]


# -- 6. a cached turn served twice in one conversation still runs its tool calls ---------


def _ping_tool(calls: list[int]) -> Any:
    @function_tool
    def ping(x: int) -> str:
        """Count the calls."""
        calls.append(x)
        return f"pong {len(calls)}"

    return ping


def _first_turn_again(data: CallModelData[Any]) -> ModelInputData:
    """After the first tool output, show the model only the user message once more."""
    items = data.model_data.input
    outputs = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
    if len(outputs) == 1:
        return ModelInputData(input=[items[0]], instructions=data.model_data.instructions)
    return data.model_data


def _ping_turns() -> list[Any]:
    call = [lambda ids: [function_call("ping", {"x": 1}, call_id=f"call_{ids}")]]
    return [*call, *call, lambda ids: [assistant_message("done", item_id=f"msg_{ids}")]]


async def test_a_request_repeated_within_one_run_is_asked_again_and_replayed_in_order() -> None:
    """The Runner re-sends an identical request and expects progress: the second occurrence
    is its own entry, so the run goes on as unwrapped, and a re-run replays both in order."""
    outcomes = []
    cached = CachedModel(TurnModel(_ping_turns()))  # new ids per answer, as a live model
    for model in (TurnModel(_ping_turns()), cached, cached):
        calls: list[int] = []
        config = RunConfig(model=model, call_model_input_filter=_first_turn_again)
        agent = Agent(name="a", tools=[_ping_tool(calls)])
        result = await Runner.run(agent, "go", run_config=config, max_turns=5)
        call_ids = [i.raw_item.call_id for i in result.new_items if i.type == "tool_call_item"]
        outcomes.append((result.final_output, len(calls), len(set(call_ids))))
    assert outcomes == [("done", 2, 2)] * 3
    assert len(cached.model.calls) == 3  # the first run asked three times, the re-run never
    assert cached.stats().hits == 3
    assert [d.path for d in explain_difference(cached.recent_calls[0], cached.recent_calls[1])] == [
        "occurrence"
    ]


class _RunOwner:
    """Stands for the SDK's per-run owner object."""


def test_an_answer_served_twice_in_one_run_gets_new_call_ids_the_second_time() -> None:
    """Whatever serves one stored answer twice in a run (a semantic hit can), the Runner would
    skip the repeated call ids; the second serve gets new ones, consistently and stably."""
    stored = ModelResponse(
        output=[function_call("ping", {"x": 1}, call_id="call_abc")], usage=Usage(), response_id="r"
    )
    served = []
    for _ in range(2):  # two runs: the same ids each time
        runs = Runs()
        with model_run_context(_RunOwner()):
            first = runs.settle(copy.deepcopy(stored), hit=True)
            second = runs.settle(copy.deepcopy(stored), hit=True)
        served.append([first.output[0].call_id, second.output[0].call_id])  # type: ignore[union-attr]
    assert served[0][0] == "call_abc"  # replayed as recorded
    assert served[0][1].startswith("call_") and served[0][1] != "call_abc"
    assert served[0] == served[1]


async def test_stored_call_ids_are_replayed_as_recorded_in_a_new_run() -> None:
    cached = CachedModel(TurnModel(_ping_turns()[1:]))
    ids = []
    for _ in range(2):
        agent = Agent(name="a", tools=[_ping_tool([])])
        result = await Runner.run(agent, "go", run_config=RunConfig(model=cached))
        ids.append([i.raw_item.call_id for i in result.new_items if i.type == "tool_call_item"])
    assert ids[0] == ids[1]  # a re-run replays exactly what was recorded
    assert cached.stats().hits == 2


async def test_a_cached_tool_turn_in_a_session_with_trimmed_history_runs_its_tool() -> None:
    counts = []
    for wrapped in (False, True):
        calls: list[int] = []
        inner = TurnModel(_ping_turns()[1:])
        model = both(inner)[wrapped]
        session = SQLiteSession(f"trimmed-{wrapped}")
        config = RunConfig(model=model, session_input_callback=lambda history, new: new)
        agent = Agent(name="a", tools=[_ping_tool(calls)])
        for _ in range(2):
            result = await Runner.run(agent, "go", session=session, run_config=config)
            assert result.final_output == "done"
        counts.append(len(calls))
    assert counts == [2, 2]
