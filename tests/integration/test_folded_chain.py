"""Plugin stages keep their order and effects whether a call runs the folded built-ins or the
full chain (``agentcache.stages.folded``), through the real ``Runner.run``."""

from __future__ import annotations

import inspect
from typing import Any

from agents import RunConfig, Runner
from agents.items import ModelResponse

import agentcache
from agentcache import CachedModel
from agentcache.call import ModelCall
from tests.support import TurnModel, weather_agent


class Recorder:
    """A plugin stage without ``idle()`` that notes each call and the frames it runs under."""

    def __init__(self, name: str, order: int, log: list[tuple[str, str, list[str]]]) -> None:
        self.name, self.order, self._log = name, order, log

    async def handle(self, call: ModelCall, call_next: Any) -> ModelResponse:
        frames = [type(frame.frame.f_locals.get("self")).__name__ for frame in inspect.stack()]
        self._log.append((self.name, call.state.outcome, frames))
        return await call_next(call)  # type: ignore[no-any-return]


def cached_with(*orders: int) -> tuple[CachedModel, TurnModel, list[tuple[str, str, list[str]]]]:
    log: list[tuple[str, str, list[str]]] = []

    class Plugin:
        @agentcache.hookimpl
        def agentcache_stages(self, context: agentcache.StageContext) -> list[Any]:
            return [Recorder(f"stage{order}", order, log) for order in orders]

    plugins = agentcache.Plugins(load_entry_points=False)
    plugins.register(Plugin(), name="recorder")
    inner = TurnModel()
    return CachedModel(inner, plugins=plugins), inner, log


async def run(cached: CachedModel) -> None:
    await Runner.run(weather_agent(), "Weather in Paris?", run_config=RunConfig(model=cached))
    await cached.flush()


async def test_stages_after_the_exact_lookup_run_on_misses_only_and_in_the_fold() -> None:
    cached, inner, log = cached_with(450, 300)
    await run(cached)
    misses = len(inner.calls)
    assert misses >= 2
    # Each miss passed both stages, in order (the second inside single-flight), called from
    # the folded built-ins: the generic chain's stats and exact stages are not on the stack.
    assert [name for name, _, _ in log] == ["stage300", "stage450"] * misses
    for name, _, frames in log:
        assert "StatsStage" not in frames and "ExactLookupStage" not in frames
        assert ("SingleFlightStage" in frames) == (name == "stage450")
    log.clear()
    await run(cached)
    assert len(inner.calls) == misses and log == []  # exact hits never reach them
    assert cached.stats().hits == misses


async def test_a_stage_before_the_exact_lookup_without_idle_gets_the_full_chain() -> None:
    cached, inner, log = cached_with(50)
    await run(cached)
    await run(cached)
    calls = len(inner.calls)
    assert cached.stats().hits == calls
    assert [name for name, _, _ in log] == ["stage50"] * (2 * calls)  # hits included
    assert all("StatsStage" in frames for _, _, frames in log)  # the generic chain
    assert all(outcome == "miss" for _, outcome, _ in log)  # before the lookup decided
