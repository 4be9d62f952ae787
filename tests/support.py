"""Shared test doubles: a small scripted inner model and a two-tool agent.

``TurnModel`` answers by turn (the number of tool outputs already in the input), so one instance
serves any number of runs and concurrent runs, and it can mint fresh random ids per call the
way a real provider does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from agents import Agent, ModelSettings, function_tool
from agents.items import ModelResponse, TResponseOutputItem
from agents.models.interface import Model
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.usage import Usage

Turn = Callable[[str], list[TResponseOutputItem]]


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@function_tool
def convert_temperature(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return celsius * 9 / 5 + 32


def weather_turns() -> list[Turn]:
    """Turn 0: call get_weather; turn 1: call convert_temperature; turn 2: answer."""
    return [
        lambda ids: [function_call("get_weather", {"city": "Paris"}, call_id=f"call_{ids}")],
        lambda ids: [function_call("convert_temperature", {"celsius": 21}, call_id=f"call_{ids}")],
        lambda ids: [assistant_message("Sunny, 69.8F in Paris", item_id=f"msg_{ids}")],
    ]


class TurnModel(Model):
    def __init__(
        self,
        turns: Sequence[Turn] | None = None,
        *,
        latency: float = 0.0,
        random_ids: bool = True,
        fail_first: int = 0,
        usage: Usage | None = None,
        event_delay: float = 0.0,
        stream_error_after: int | None = None,
    ) -> None:
        self.turns = list(turns or weather_turns())
        self.latency = latency
        self.random_ids = random_ids
        self.fail_first = fail_first
        self.usage = usage or Usage(requests=1, input_tokens=50, output_tokens=10, total_tokens=60)
        self.calls: list[dict[str, Any]] = []
        self.event_delay = event_delay
        self.stream_error_after = stream_error_after
        self.events_sent = 0

    async def get_response(
        self,
        system_instructions,
        input,
        model_settings,
        tools,
        output_schema,
        handoffs,
        tracing,
        *,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    ) -> ModelResponse:  # type: ignore[no-untyped-def]
        return await self._answer(
            input, model_settings, tools, previous_response_id, conversation_id, streamed=False
        )

    async def _answer(  # type: ignore[no-untyped-def]
        self, input, model_settings, tools, previous_response_id, conversation_id, *, streamed
    ) -> ModelResponse:
        """Record the call, wait ``latency``, then answer by turn (or fail the first calls)."""
        self.calls.append(
            {
                "input": input,
                "settings": model_settings,
                "tools": tools,
                "conversation_id": conversation_id,
                "streamed": streamed,
            }
        )
        if self.latency:
            await asyncio.sleep(self.latency)
        if len(self.calls) <= self.fail_first:
            raise RuntimeError("upstream failure")
        items = input if isinstance(input, list) else []
        turn = sum(
            1 for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        )
        if previous_response_id:  # server-side history: only new items arrive
            turn = int(previous_response_id.split("_")[1]) + 1
        elif conversation_id:
            turn = sum(1 for c in self.calls[:-1] if c["conversation_id"] == conversation_id)
        ids = uuid.uuid4().hex if self.random_ids else f"fixed{turn}"
        return ModelResponse(
            output=self.turns[turn](ids), usage=self.usage, response_id=f"resp_{turn}_{ids}"
        )

    async def stream_response(  # type: ignore[no-untyped-def]
        self,
        system_instructions,
        input,
        model_settings,
        tools,
        output_schema,
        handoffs,
        tracing,
        *,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    ):
        """The same answers as a live stream, with the events the SDK's ScriptedModel makes.

        ``latency`` is spent before the first event; ``event_delay`` between events;
        ``stream_error_after`` raises RuntimeError after that many events.
        """
        answer = await self._answer(
            input, model_settings, tools, previous_response_id, conversation_id, streamed=True
        )
        step = ModelStep(output=answer.output, usage=answer.usage, response_id=answer.response_id)
        scripted = ScriptedModel([step])
        events = scripted.stream_response(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
        )
        sent = 0
        async for event in events:
            if sent and self.event_delay:
                await asyncio.sleep(self.event_delay)
            if self.stream_error_after is not None and sent >= self.stream_error_after:
                raise RuntimeError("stream broke")
            self.events_sent += 1
            sent += 1
            yield event


def weather_agent(**overrides: Any) -> Agent[Any]:
    options: dict[str, Any] = {
        "name": "weather",
        "instructions": "Answer weather questions with the tools.",
        "tools": [get_weather, convert_temperature],
        "model_settings": ModelSettings(temperature=0.2),
    }
    options.update(overrides)
    return Agent(**options)


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module, loaded once per process (the scripts are not a
    package: they run on their own, and the tests import them like this)."""
    path = Path(__file__).parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"agentcache_{name}", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module
