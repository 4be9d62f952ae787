"""Tools that count their invocations, and a scripted model that calls them turn by turn."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from agents import Agent, FunctionTool, ModelSettings, function_tool
from agents.items import ModelResponse
from agents.testing import assistant_message, function_call

from tests.support import TurnModel

Call = tuple[str, "str | dict[str, Any]"]
"""A tool call the model makes: the tool's name and its arguments (a dict, or raw JSON)."""


class ToolTurnModel(TurnModel):
    """Turn ``k`` makes the tool calls ``turns[k]`` (in parallel when several), then answers
    "done". The turn is read from the number of tool outputs in the input, so one instance
    serves any number of runs."""

    def __init__(self, turns: Sequence[Sequence[Call]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tool_turns = [list(t) for t in turns]

    async def _answer(self, input: Any, *args: Any, streamed: bool) -> ModelResponse:
        self.calls.append({"input": input, "streamed": streamed})
        items = input if isinstance(input, list) else []
        outputs = sum(
            1 for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        )
        done, turn = 0, 0
        while turn < len(self.tool_turns) and done < outputs:
            done += len(self.tool_turns[turn])
            turn += 1
        n = len(self.calls)
        if turn >= len(self.tool_turns):
            output = [assistant_message("done", item_id=f"msg_{n}")]
        else:
            output = [
                function_call(name, args, call_id=f"call_{n}_{i}")
                for i, (name, args) in enumerate(self.tool_turns[turn])
            ]
        return ModelResponse(output=output, usage=self.usage, response_id=f"resp_{n}")


class Tools:
    """Three tools whose invocations are counted by name (``delay``: seconds per call)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.invocations: Counter[str] = Counter()
        self.delay = delay
        self.fail = False

        @function_tool
        async def search(query: str, limit: int, request_id: str) -> str:
            """Search the web."""
            self.invocations["search"] += 1
            await asyncio.sleep(self.delay)
            if self.fail:
                raise RuntimeError("search backend down")
            return f"{limit} results for {query}"

        @function_tool
        async def lookup(city: str) -> dict[str, Any]:
            """Look a city up in the database."""
            self.invocations["lookup"] += 1
            await asyncio.sleep(self.delay)
            return {"city": city, "population": 2_100_000, "tags": ["capital", None, 1.5]}

        @function_tool
        async def book(city: str) -> str:
            """Book a trip (a side effect: never cached)."""
            self.invocations["book"] += 1
            await asyncio.sleep(self.delay)
            return f"booked {city}"

        self.search: FunctionTool = search
        self.lookup: FunctionTool = lookup
        self.book: FunctionTool = book

    def all(self) -> list[FunctionTool]:
        return [self.search, self.lookup, self.book]


SEARCH = {"query": "paris", "limit": 3, "request_id": "r-1"}
TURNS: list[list[Call]] = [
    [("search", SEARCH)],
    [("lookup", {"city": "Paris"}), ("book", {"city": "Paris"})],
]
"""Turn 0: search; turn 1: lookup and book in parallel; then "done"."""


def agent(tools: Sequence[Any], **overrides: Any) -> Agent[Any]:
    options: dict[str, Any] = {
        "name": "travel",
        "instructions": "Use the tools.",
        "tools": list(tools),
        "model_settings": ModelSettings(temperature=0.0),
    }
    options.update(overrides)
    return Agent(**options)
