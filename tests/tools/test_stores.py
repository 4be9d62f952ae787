"""Tool results in the file and Redis stores, signed or not, listed by the command line."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from agents import RunConfig, Runner
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcache import CachedModel, FileStore, SignedStore, ToolCache
from agentcache.cli import main
from tests.tools.helpers import TURNS, Tools, ToolTurnModel, agent


async def two_runs(cache: ToolCache, tools: Tools, model: Any = None) -> None:
    cached = [cache.wrap(tools.search, volatile="request_id"), cache.wrap(tools.lookup)]
    travel = agent([*cached, tools.book])
    for _ in "ab":
        result = await Runner.run(
            travel, "Plan a trip", run_config=RunConfig(model=model or ToolTurnModel(TURNS))
        )
        assert result.final_output == "done"


def stored(path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text())["value"] for p in path.rglob("*.json")]


BOOKS = 4  # never cached: two runs, twice


async def test_file_store_keeps_tool_results_across_processes(tmp_path: Path) -> None:
    tools = Tools()
    await two_runs(ToolCache(f"file://{tmp_path}"), tools)
    await two_runs(ToolCache(FileStore(tmp_path)), tools)  # a new cache, as a new process
    assert tools.invocations == {"search": 1, "lookup": 1, "book": BOOKS}
    (entry,) = [e for e in stored(tmp_path) if e.get("tool") == "search"]
    assert entry["format"] == "agentcache.tool" and entry["output"] == {
        "json": "3 results for paris"
    }


async def test_redis_store_shares_tool_results(redis_url: str) -> None:
    url = f"{redis_url}?prefix=tools-{uuid.uuid4().hex[:8]}"
    tools = Tools()
    first, second = ToolCache(url), ToolCache(url)
    try:
        await two_runs(first, tools)
        await two_runs(second, tools)
    finally:
        await first.close()
        await second.close()
    assert tools.invocations == {"search": 1, "lookup": 1, "book": BOOKS}
    assert second.stats().tool_hits == 4 and first.stats().tool_stores == 2


async def test_a_signed_store_serves_tool_results(tmp_path: Path) -> None:
    tools = Tools()
    store = SignedStore(FileStore(tmp_path), b"k" * 32)
    await two_runs(ToolCache(store), tools)
    assert tools.invocations == {"search": 1, "lookup": 1, "book": 2}


async def fill(url: str) -> None:
    model = CachedModel(ToolTurnModel(TURNS), store=url)
    await two_runs(ToolCache.of(model), Tools(), model)
    await model.close()


def test_the_command_line_lists_tool_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(fill(f"file://{tmp_path}"))
    store = ["--store", f"file://{tmp_path}"]
    assert main(["ls", "--json", *store]) == 0
    rows = json.loads(capsys.readouterr().out)
    models = sorted(r["model"] or "-" for r in rows)
    assert models.count("tool:search") == models.count("tool:lookup") == 1
    assert len(models) == 5 and models[:3] == ["-", "-", "-"]  # the model answers
    assert main(["stats", "--json", *store]) == 0
    by_model = json.loads(capsys.readouterr().out)["by_model"]
    assert by_model["tool:search"]["entries"] == 1 and by_model["tool:lookup"]["entries"] == 1
    assert main(["verify", *store]) == 0
    digest = next(r["digest"] for r in rows if r["model"] == "tool:lookup")
    assert main(["show", digest, *store]) == 0
    assert '"city": "Paris"' in capsys.readouterr().out


async def test_each_cached_tool_call_is_an_agentcache_tool_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    model = CachedModel(ToolTurnModel(TURNS), options={"otel_tracer_provider": provider})
    tools = Tools()
    await two_runs(ToolCache.of(model), tools, model)
    names = [s.name for s in exporter.get_finished_spans()]
    assert names.count("agentcache.tool") == 4  # two tools, two runs; the hits too
