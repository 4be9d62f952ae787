"""Record and replay of tool results in the pytest plugin, run with pytester."""

from __future__ import annotations

import json

import pytest

from tests.recording.conftest import Suite

pytest_plugins = ["pytester"]

TESTS = """
import os
from pathlib import Path

from agents import RunConfig, function_tool
from tests.tools.helpers import ToolTurnModel, agent

LOG = Path(__file__).parent / "tool_calls.log"
QUERY = os.environ.get("QUERY", "paris")
TURNS = [
    [("search", {"query": QUERY, "limit": 3, "request_id": "r-1"})],
    [("lookup", {"city": "Paris"}), ("book", {"city": "Paris"})],
]


def ran(name):
    with LOG.open("a") as f:
        f.write(name + "\\n")


def tools():
    @function_tool
    async def search(query: str, limit: int, request_id: str) -> str:
        \"\"\"Search the web.\"\"\"
        ran("search")
        return f"{limit} results for {query}"

    @function_tool
    async def lookup(city: str) -> dict:
        \"\"\"Look a city up.\"\"\"
        ran("lookup")
        return {"city": city, "population": 2100000}

    @function_tool
    async def book(city: str) -> str:
        \"\"\"Book a trip.\"\"\"
        ran("book")
        return f"booked {city}"

    return [search, lookup, book]


@pytest.mark.agentcache(tools=["search", "lookup"])
async def test_trip(agentcache):
    travel = agentcache.agent(agent(tools()))
    config = agentcache.run_config(model=ToolTurnModel(TURNS))
    result = await Runner.run(travel, "Plan a trip", run_config=config)
    assert result.final_output == "done"


@pytest.mark.agentcache(tools=["search"])
async def test_tools_only(agentcache):
    travel = agentcache.agent(agent(tools()))
    config = RunConfig(model=ToolTurnModel(TURNS))  # a live model; only the tools are recorded
    result = Runner.run_streamed(travel, "Plan a trip", run_config=config)
    async for _ in result.stream_events():
        pass
    assert result.final_output == "done"


async def test_no_tools_named(agentcache):
    travel = agentcache.agent(agent(tools()))
    await Runner.run(travel, "Plan a trip", run_config=RunConfig(model=ToolTurnModel(TURNS)))
"""


def tool_calls(suite: Suite) -> list[str]:
    log = suite.path / "tool_calls.log"
    if not log.exists():
        return []
    calls = sorted(log.read_text().split())
    log.unlink()
    return calls


def test_once_records_named_tools_and_replay_runs_none_of_them(suite: Suite) -> None:
    suite.tests(TESTS)
    suite.run().assert_outcomes(passed=3)
    assert tool_calls(suite) == ["book"] * 3 + ["lookup"] * 3 + ["search"] * 3
    recorded = {
        name: json.loads(raw)["value"]
        for name, raw in suite.recordings().items()
        if json.loads(raw)["value"]["format"] == "agentcache.tool"
    }
    tools = sorted(entry["tool"] for entry in recorded.values())
    assert tools == ["lookup", "search", "search"]  # test_trip's two, test_tools_only's one
    entry = next(e for e in recorded.values() if e["tool"] == "search")
    assert entry["request"]["args"] == {"query": "paris", "limit": 3, "request_id": "r-1"}
    assert entry["meta"]["test"].startswith("test_agent.py::test_")
    assert entry["created_at"] == entry["elapsed"] == 0.0

    result = suite.run("--agentcache-mode=replay")
    result.assert_outcomes(passed=3)
    # replay: the named tools never run (test_trip: search and lookup; test_tools_only: search)
    assert tool_calls(suite) == ["book"] * 3 + ["lookup"] * 2 + ["search"]


def test_a_tool_call_without_a_recording_fails_the_test_in_replay(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.tests(TESTS)
    suite.run("-k", "tools_only").assert_outcomes(passed=1)
    tool_calls(suite)
    monkeypatch.setenv("QUERY", "rome")
    result = suite.run("--agentcache-mode=replay", "-k", "tools_only")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "ToolRecordingMissing: no recording answers this tool call, and replay mode never*",
            "  test: test_agent.py::test_tools_only",
            '  call: tool search; arguments {"limit": 3, "query": "rome", "request_id": "r-1"}',
            "  nearest recording: .agentcache/test_agent.py-test_tools_only-*.json, 1 key part(s)*",
            '    args.query: "paris" != "rome"',
            "  record it with --agentcache-mode=once*",
        ]
    )
    assert "search" not in tool_calls(suite)  # the tool never ran
    suite.run("-k", "tools_only").assert_outcomes(passed=1)  # once: records what is missing
    assert tool_calls(suite) == ["book", "lookup", "search"]


def test_repeated_calls_replay_in_recorded_order(suite: Suite) -> None:
    suite.tests(
        """
import itertools
from agents import RunConfig, function_tool
from tests.tools.helpers import ToolTurnModel, agent

COUNTER = itertools.count(1)


@function_tool
def take_ticket() -> int:
    \"\"\"The next ticket number (a side effect).\"\"\"
    return next(COUNTER)


@pytest.mark.agentcache(tools=["take_ticket"])
async def test_tickets(agentcache):
    model = ToolTurnModel([[("take_ticket", {})], [("take_ticket", {})]])
    result = await Runner.run(
        agentcache.agent(agent([take_ticket])), "Two tickets", run_config=RunConfig(model=model)
    )
    outputs = [i.output for i in result.new_items if i.type == "tool_call_output_item"]
    assert outputs == [1, 2], outputs
    assert next(COUNTER) == (1 if agentcache.mode == "replay" else 3)
"""
    )
    suite.run().assert_outcomes(passed=1)
    suite.run("--agentcache-mode=replay").assert_outcomes(passed=1)


def test_the_marker_takes_tool_names_only(suite: Suite) -> None:
    suite.tests(
        """
@pytest.mark.agentcache(tools=[1])
async def test_bad(agentcache):
    pass
"""
    )
    result = suite.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*tools must be a list of tool names*"])
