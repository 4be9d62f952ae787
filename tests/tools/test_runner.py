"""Cached tools through ``Runner.run`` and ``Runner.run_streamed``: what reaches the tools."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from agents import FunctionTool, RunConfig, Runner, function_tool
from agents.tool import ToolOutputText

import agentcache
from agentcache import CachedModel, CachedToolError, MemoryStore, ToolCache, cached_tool
from tests.tools.helpers import SEARCH, TURNS, Tools, ToolTurnModel, agent


async def run(agent_: Any, model: Any, *, streamed: bool = False) -> Any:
    if not streamed:
        return await Runner.run(agent_, "Plan a trip", run_config=RunConfig(model=model))
    result = Runner.run_streamed(agent_, "Plan a trip", run_config=RunConfig(model=model))
    async for _ in result.stream_events():
        pass
    return result


async def entries(store: MemoryStore) -> dict[Any, bytes]:
    keys = [k async for k in store.keys()]  # noqa: SIM118 - MemoryStore.keys() is async
    return {k: await store.get(k) or b"" for k in keys}


def cached_agent(tools: Tools, cache: ToolCache, **options: Any) -> Any:
    wrapped = [cache.wrap(tools.search, volatile="request_id", **options), cache.wrap(tools.lookup)]
    return agent([*wrapped, tools.book])


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_a_second_run_invokes_only_the_tools_that_are_not_cached(streamed: bool) -> None:
    tools, cache = Tools(), ToolCache()
    travel = cached_agent(tools, cache)
    first = await run(travel, ToolTurnModel(TURNS), streamed=streamed)
    assert tools.invocations == {"search": 1, "lookup": 1, "book": 1}
    second = await run(travel, ToolTurnModel(TURNS), streamed=streamed)
    assert tools.invocations == {"search": 1, "lookup": 1, "book": 2}
    assert first.final_output == second.final_output == "done"
    outputs = [
        [i.output for i in r.new_items if i.type == "tool_call_output_item"]
        for r in (first, second)
    ]
    assert outputs[0] == outputs[1]
    stats = cache.stats()
    assert (stats.tool_hits, stats.tool_misses, stats.tool_stores) == (2, 2, 2)
    assert stats.tool_seconds_saved >= 0.0 and stats.hits == 0


async def test_a_streamed_run_and_a_run_share_entries() -> None:
    tools, cache = Tools(), ToolCache()
    travel = cached_agent(tools, cache)
    await run(travel, ToolTurnModel(TURNS), streamed=True)
    await run(travel, ToolTurnModel(TURNS))
    assert tools.invocations == {"search": 1, "lookup": 1, "book": 2}


async def test_the_model_cache_and_the_tool_cache_together_make_a_rerun_free() -> None:
    tools, inner = Tools(), ToolTurnModel(TURNS)
    model = CachedModel(inner)
    cache = ToolCache.of(model)
    travel = agent([cache.wrap(tools.search), cache.wrap(tools.lookup), cache.wrap(tools.book)])
    await run(travel, model)
    await run(travel, model)
    assert tools.invocations == {"search": 1, "lookup": 1, "book": 1}
    assert len(inner.calls) == 3
    stats = model.stats()  # one stats object for the model and its tools
    assert stats.hits == 3 and stats.tool_hits == 3 and stats.tool_stores == 3


@pytest.mark.parametrize(
    "arguments, invoked",
    [
        ('{"limit": 3, "query": "paris", "request_id": "r-1"}', 0),  # another order
        ('{"query":"paris","limit":3,"request_id":"r-2"}', 0),  # a volatile argument
        ('{"query": "paris", "limit": 4, "request_id": "r-1"}', 1),  # another value
        ('{"query": "Paris", "limit": 3, "request_id": "r-1"}', 1),
    ],
)
async def test_arguments_are_keyed_canonically(arguments: str, invoked: int) -> None:
    tools, cache = Tools(), ToolCache()
    search = cache.wrap(tools.search, volatile=["request_id"])
    await run(agent([search]), ToolTurnModel([[("search", SEARCH)]]))
    await run(agent([search]), ToolTurnModel([[("search", arguments)]]))
    assert tools.invocations["search"] == 1 + invoked


async def test_key_version_and_namespace_choose_the_entry() -> None:
    tools, store = Tools(), MemoryStore()
    model = ToolTurnModel([[("lookup", {"city": "Paris"})]])
    for options, invoked in [
        ({}, 1),
        ({}, 1),
        ({"version": 2}, 2),
        ({"namespace": "other"}, 3),
        ({"key": lambda args: args["city"].lower()}, 4),
        ({"key": lambda args: args["city"].lower()}, 4),
    ]:
        cache = ToolCache(store)
        await run(agent([cache.wrap(tools.lookup, **options)]), model)
        assert tools.invocations["lookup"] == invoked, options
    with agentcache.namespace("tenant-2"):
        await run(agent([ToolCache(store).wrap(tools.lookup)]), model)
    assert tools.invocations["lookup"] == 5


async def test_concurrent_identical_calls_invoke_the_tool_once() -> None:
    tools, cache = Tools(delay=0.05), ToolCache()
    lookup = cache.wrap(tools.lookup)
    same = ("lookup", {"city": "Paris"})
    # the same call twice in one turn (run in parallel), in eight concurrent runs
    model = ToolTurnModel([[same, same]])
    results = await asyncio.gather(*(run(agent([lookup]), model) for _ in range(8)))
    assert tools.invocations["lookup"] == 1
    assert all(r.final_output == "done" for r in results)
    outputs = [i.output for r in results for i in r.new_items if i.type == "tool_call_output_item"]
    assert len(outputs) == 16 and len({id(o) for o in outputs}) == 16  # each call its own copy
    assert cache.stats().tool_hits == 15


async def test_errors_are_not_cached_unless_asked() -> None:
    tools = Tools()
    tools.fail = True
    for cache_errors, invoked in [(False, 2), (True, 1)]:
        tools.invocations.clear()
        cache = ToolCache()
        search = cache.wrap(tools.search, cache_errors=cache_errors)
        results = [await run(agent([search]), ToolTurnModel([[("search", SEARCH)]])) for _ in "ab"]
        assert tools.invocations["search"] == invoked
        outputs = [
            next(i.output for i in r.new_items if i.type == "tool_call_output_item")
            for r in results
        ]
        # the tool's failure_error_function formats the exception, replayed or not
        assert (
            outputs[0]
            == outputs[1]
            == "An error occurred while running the tool. Please try again."
        )
        assert cache.stats().not_stored.get("tool_error", 0) == (0 if cache_errors else 2)


async def test_a_raised_error_reaches_the_runner_and_a_cached_one_is_raised_again() -> None:
    calls = []

    @function_tool(failure_error_function=None)
    def fragile(x: int) -> str:
        """Raises."""
        calls.append(x)
        raise ValueError(f"bad {x}")

    cache = ToolCache()
    tool = cache.wrap(fragile, cache_errors=True)
    for _ in "ab":
        with pytest.raises(Exception, match="bad 1") as caught:
            await run(agent([tool]), ToolTurnModel([[("fragile", {"x": 1})]]))
    assert calls == [1]
    cause = caught.value.__cause__ or caught.value
    assert isinstance(cause, CachedToolError) and cause.type_name == "ValueError"


async def test_is_error_marks_returned_error_outputs() -> None:
    calls = []

    @function_tool
    def find(name: str) -> str:
        """Returns an error text itself."""
        calls.append(name)
        return "ERROR: not found"

    tool = cached_tool(find, is_error=lambda out: str(out).startswith("ERROR"))
    for _ in "ab":
        await run(agent([tool]), ToolTurnModel([[("find", {"name": "x"})]]))
    assert calls == ["x", "x"]


async def test_a_broken_store_never_breaks_a_tool_call() -> None:
    class Broken(MemoryStore):
        async def get(self, key: Any) -> bytes | None:
            raise ConnectionError("store down")

        async def set(self, key: Any, value: bytes, ttl: float | None = None) -> None:
            raise ConnectionError("store down")

    class Hung(MemoryStore):
        in_process = False

        async def get(self, key: Any) -> bytes | None:
            await asyncio.sleep(3600)
            return None

        set = get  # type: ignore[assignment]

    for store in (Broken(), Hung()):
        tools = Tools()
        cache = ToolCache(store, store_timeout=0.05)
        travel = agent([cache.wrap(tools.lookup), cache.wrap(tools.search)])
        for _ in "ab":
            result = await asyncio.wait_for(
                run(travel, ToolTurnModel([*TURNS[:1], [("lookup", {"city": "P"})]])), 10
            )
            assert result.final_output == "done"
        assert tools.invocations == {"search": 2, "lookup": 2}
        errors = cache.stats().errors
        assert errors.get("store_error", 0) + errors.get("store_timeout", 0) >= 2


async def test_a_corrupt_entry_is_a_miss_and_is_removed() -> None:
    tools, store = Tools(), MemoryStore()
    cache = ToolCache(store)
    lookup = cache.wrap(tools.lookup)
    model = ToolTurnModel([[("lookup", {"city": "Paris"})]])
    await run(agent([lookup]), model)
    (key,) = await entries(store)
    await store.set(key, b'{"format": "agentcache.tool", "version": 1, "output": 3}')
    await run(agent([lookup]), model)
    assert tools.invocations["lookup"] == 2
    assert cache.stats().errors["corrupt_entry"] == 1


async def test_controls_apply_to_tool_calls() -> None:
    tools, cache = Tools(), ToolCache()
    lookup = cache.wrap(tools.lookup)
    model = ToolTurnModel([[("lookup", {"city": "Paris"})]])
    with agentcache.no_store():
        await run(agent([lookup]), model)
    with agentcache.no_cache():
        await run(agent([lookup]), model)
    assert tools.invocations["lookup"] == 2 and cache.stats().tool_stores == 0
    await run(agent([lookup]), model)  # stores
    with agentcache.refresh():
        await run(agent([lookup]), model)  # skips the read, overwrites
    await run(agent([lookup]), model)  # a hit
    assert tools.invocations["lookup"] == 4
    assert cache.stats().tool_bypasses == {"no_cache": 1}
    with agentcache.ttl(0.05):
        await run(agent([cache.wrap(tools.lookup, version="short")]), model)
    await asyncio.sleep(0.1)
    await run(agent([cache.wrap(tools.lookup, version="short")]), model)  # expired
    assert tools.invocations["lookup"] == 6


async def test_outputs_without_an_exact_json_form_are_returned_and_not_stored() -> None:
    outputs: list[Any] = [
        ("a", "tuple"),
        {1: "int key"},
        float("nan"),
        object(),
        ToolOutputText(text="replayed as itself"),
        [ToolOutputText(text="a"), {"type": "text", "text": "b"}],
        {"nested": [1, 2.5, True, None, "x"]},
    ]
    calls = []

    @function_tool
    def give(i: int) -> Any:
        """Returns outputs[i]."""
        calls.append(i)
        return outputs[i]

    cache = ToolCache()
    tool = cache.wrap(give, version=1)
    for i, value in enumerate(outputs):
        for _ in "ab":
            got = await tool.on_invoke_tool(_context(tool, i), json.dumps({"i": i}))
            assert got == value or (isinstance(value, float) and got != got) or got is value
            assert type(got) is type(value)
    assert calls == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6]
    assert cache.stats().not_stored == {"tool_unencodable": 8}


def _context(tool: FunctionTool, i: int) -> Any:
    from agents import RunContextWrapper
    from agents.tool_context import ToolContext

    return ToolContext(
        RunContextWrapper(None).context,
        tool_name=tool.name,
        tool_call_id=f"call_{i}",
        tool_arguments=json.dumps({"i": i}),
    )


async def test_stop_on_first_tool_returns_the_cached_output_itself() -> None:
    tools, cache = Tools(), ToolCache()
    travel = agent([cache.wrap(tools.lookup)], tool_use_behavior="stop_on_first_tool")
    model = ToolTurnModel([[("lookup", {"city": "Paris"})]])
    first, second = [await run(travel, model) for _ in "ab"]
    assert first.final_output == second.final_output
    assert isinstance(second.final_output, type(first.final_output))
    assert tools.invocations["lookup"] == 1


def test_the_cached_tool_is_the_same_function_tool() -> None:
    tools = Tools()

    @function_tool(strict_mode=False, timeout=5, needs_approval=True)
    async def slow(city: str) -> str:
        """Slow and approved."""
        return city

    for original in (tools.search, slow):
        wrapped = cached_tool(original)
        assert type(wrapped) is FunctionTool and wrapped is not original
        for f in dataclasses.fields(FunctionTool):
            if f.name != "on_invoke_tool":
                assert getattr(wrapped, f.name) == getattr(original, f.name), f.name
        assert wrapped.on_invoke_tool is not original.on_invoke_tool
        assert wrapped.__wrapped__ is original.__wrapped__  # the decorated function
        assert type(wrapped.on_invoke_tool) is type(original.on_invoke_tool)


async def test_the_decorator_forms_and_a_hand_made_function_tool() -> None:
    calls = []

    @cached_tool
    @function_tool
    def bare(x: int) -> int:
        """x squared."""
        calls.append(x)
        return x * x

    @cached_tool(ttl=60, version="2024-06")
    @function_tool
    def called(x: int) -> int:
        """x cubed."""
        calls.append(x)
        return x**3

    async def invoke(ctx: Any, arguments: str) -> str:
        calls.append(arguments)
        return "hand-made " + arguments

    hand = cached_tool(
        FunctionTool(
            name="hand",
            description="A hand-made tool.",
            params_json_schema={
                "type": "object",
                "properties": {"q": {"type": "string"}},
                "required": ["q"],
                "additionalProperties": False,
            },
            on_invoke_tool=invoke,
        )
    )
    turns = [[("bare", {"x": 2}), ("called", {"x": 2}), ("hand", {"q": "a"})]]
    for _ in "ab":
        await run(agent([bare, called, hand]), ToolTurnModel(turns))
    assert sorted(map(str, calls)) == ["2", "2", '{"q":"a"}']


async def test_approval_is_asked_before_a_hit_as_before_a_live_call() -> None:
    calls = []

    @function_tool(needs_approval=True)
    def pay(amount: int) -> str:
        """Pay (needs approval)."""
        calls.append(amount)
        return f"paid {amount}"

    cache = ToolCache()
    travel = agent([cache.wrap(pay)])
    model = ToolTurnModel([[("pay", {"amount": 5})]])
    for decision, expected in [("approve", [5]), ("approve", [5]), ("reject", [5])]:
        result = await run(travel, model)
        assert len(result.interruptions) == 1  # a hit does not skip the approval
        state = result.to_state()
        getattr(state, decision)(result.interruptions[0])
        result = await Runner.run(travel, state, run_config=RunConfig(model=model))
        assert result.final_output == "done" and calls == expected
        output = next(i.output for i in result.new_items if i.type == "tool_call_output_item")
        assert (output == "paid 5") == (decision == "approve")


async def test_a_policy_names_the_tools_to_cache() -> None:
    tools = Tools()
    cache = ToolCache(tools={"search": {"volatile": ["request_id"]}, "lookup": {}})
    travel = cache.agent(agent(tools.all()))
    assert [t.name for t in travel.tools] == ["search", "lookup", "book"]
    assert travel.tools[2] is tools.book
    for _ in "ab":
        await run(travel, ToolTurnModel(TURNS))
    assert tools.invocations == {"search": 1, "lookup": 1, "book": 2}
    with pytest.raises(ValueError, match="unknown tool cache option"):
        ToolCache(tools={"search": {"tll": 5}})
    with pytest.raises(ValueError, match="does not declare"):
        cache.wrap(tools.lookup, volatile=["request_id"])
    with pytest.raises(TypeError, match="only a FunctionTool"):
        cache.wrap(object())  # type: ignore[arg-type]


async def test_tool_entries_never_collide_with_model_entries() -> None:
    store = MemoryStore()
    model = CachedModel(ToolTurnModel([[("lookup", {"city": "Paris"})]]), store=store)
    tools = Tools()
    await run(agent([ToolCache.of(model).wrap(tools.lookup)]), model)
    await model.flush()
    docs = [json.loads(raw) for raw in (await entries(store)).values()]
    formats = sorted(e["format"] for e in docs)
    assert formats == ["agentcache.entry", "agentcache.entry", "agentcache.tool"]
    tool_entry = next(e for e in docs if e["format"] == "agentcache.tool")
    assert tool_entry["tool"] == "lookup" and tool_entry["error"] is None
    assert tool_entry["output"] == {
        "json": {"city": "Paris", "population": 2100000, "tags": ["capital", None, 1.5]}
    }
    assert "request" not in tool_entry  # arguments are kept only in recordings


class LiveCityRule:
    @agentcache.hookimpl
    def agentcache_tool_bypass(self, call: agentcache.ToolCall) -> str | None:
        return "live_city" if call.tool == "lookup" and call.arguments == {"city": "Live"} else None


async def test_a_bypass_rule_sees_tool_calls() -> None:
    plugins = agentcache.Plugins(load_entry_points=False)
    plugins.register(LiveCityRule())
    tools, cache = Tools(), ToolCache(plugins=plugins)
    lookup = cache.wrap(tools.lookup)
    for city in ("Live", "Live", "Paris", "Paris"):
        await run(agent([lookup]), ToolTurnModel([[("lookup", {"city": city})]]))
    assert tools.invocations["lookup"] == 3
    assert cache.stats().tool_bypasses == {"live_city": 2}


async def test_when_the_first_of_concurrent_calls_fails_the_others_run_the_tool() -> None:
    tools, cache = Tools(delay=0.05), ToolCache()
    tools.fail = True
    search = cache.wrap(tools.search)
    model = ToolTurnModel([[("search", SEARCH)]])
    results = await asyncio.gather(*(run(agent([search]), model) for _ in range(3)))
    assert all(r.final_output == "done" for r in results)
    assert tools.invocations["search"] == 3  # an error is never shared with the waiting calls


class BrokenRule:
    @agentcache.hookimpl
    def agentcache_tool_bypass(self, call: agentcache.ToolCall) -> str | None:
        raise RuntimeError("a broken rule")


async def test_a_broken_bypass_rule_runs_the_tool() -> None:
    plugins = agentcache.Plugins(load_entry_points=False)
    plugins.register(BrokenRule())
    tools, cache = Tools(), ToolCache(plugins=plugins)
    for _ in "ab":
        await run(agent([cache.wrap(tools.lookup)]), ToolTurnModel([[("lookup", {"city": "P"})]]))
    assert tools.invocations["lookup"] == 2
    stats = cache.stats()
    assert stats.tool_bypasses == {"bypass_hook_error": 2}
    assert stats.errors["tool_bypass_hook"] == 2
