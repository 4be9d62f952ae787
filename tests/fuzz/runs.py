"""Running an agent the way a user does, for the fuzz tests that go through ``Runner``.

``outcome`` reduces a run to what the caller sees, the final output or the type of the
exception, so that a cached run can be compared with the same run on the bare model: the
cache may change cost and latency, never what the Runner returns or raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from agents import Agent, RunConfig, Runner
from agents.models.interface import Model
from agents.testing import ScriptedModel
from agents.testing import assistant_message as scripted_message

T = TypeVar("T")
Outcome = tuple[str, Any]

ANSWER = "answered by the inner model"


def answering(items: list[Any] | None = None, times: int = 3) -> ScriptedModel:
    """A scripted inner model that gives the same answer ``times`` times."""
    answer = items or [scripted_message(ANSWER)]
    return ScriptedModel([list(answer) for _ in range(times)])


async def outcome(model: Model, agent: Agent[Any], input: Any, *, streamed: bool) -> Outcome:
    try:
        if streamed:
            result = Runner.run_streamed(agent, input, run_config=RunConfig(model=model))
            async for _event in result.stream_events():
                pass
        else:
            result = await Runner.run(agent, input, run_config=RunConfig(model=model))  # type: ignore[assignment]
    except Exception as exc:
        return "error", type(exc).__qualname__
    return "ok", result.final_output


def run(coro: Coroutine[Any, Any, T]) -> T:
    """One example, one event loop: nothing leaks from one example into the next."""
    return asyncio.run(coro)
